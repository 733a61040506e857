"""The API key check: every endpoint under /v1 needs `Authorization: Bearer <key>`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vidgate.domain import ApiKey, AuthenticationFailed
from vidgate.service import KeyService


async def current_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key" if not header else "invalid_api_key",
        )
    keys: KeyService = request.app.state.keys
    return await keys.authenticate(token.strip())


CurrentKey = Annotated[ApiKey, Depends(current_key)]
