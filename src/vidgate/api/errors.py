"""One place that turns every refusal into the OpenAI error envelope.

`{"error": {"message", "type", "param", "code"}}` for domain errors, validation errors,
unknown routes and, should one ever happen, a bug (500, logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidgate.domain import VidgateError

log = logging.getLogger("vidgate.api")


def envelope(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
        headers=headers,
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: the envelope documented for each status."""
    from vidgate.api.schemas import ErrorEnvelope

    return {s: {"model": ErrorEnvelope, "description": "OpenAI error envelope"} for s in statuses}


async def _on_vidgate_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VidgateError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return envelope(
        exc.status_code,
        exc.message,
        type_=exc.error_type,
        param=exc.param,
        code=exc.code,
        headers=headers,
    )


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(loc) or None
    message = first.get("msg", "Invalid request")
    return envelope(
        400, f"{param}: {message}" if param else message, param=param, code="invalid_value"
    )


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return envelope(exc.status_code, str(exc.detail), code=code, headers=exc.headers)


async def _on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return envelope(
        500,
        "The server had an error while processing your request.",
        type_="server_error",
        code="internal_error",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(VidgateError, _on_vidgate_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
