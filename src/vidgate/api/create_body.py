"""Reading a create request, multipart or JSON, into a `CreateVideo`.

The seed's clients send multipart (`model`, `prompt`, an `input_reference` file); newer
SDKs send multipart with every value as text; older SDKs send JSON (and `seconds` may be a
number). Unknown fields are ignored. `input_reference` must be the image itself: a link
is refused, never fetched.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from vidgate.domain import InvalidRequest, PayloadTooLarge
from vidgate.service import CreateVideo

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def read_create(request: Request, max_reference_bytes: int) -> CreateVideo:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    idempotency_key = request.headers.get("idempotency-key") or None
    if content_type in _FORM_TYPES:
        return await _read_form(request, max_reference_bytes, idempotency_key)
    if content_type == "application/json" or content_type.endswith("+json"):
        return _from_json(await request.body(), idempotency_key)
    raise InvalidRequest(
        f"Content-Type '{content_type or '(none)'}' is not supported; send "
        "multipart/form-data or application/json.",
        param="Content-Type",
        code="unsupported_content_type",
    )


async def _read_form(
    request: Request, max_reference_bytes: int, idempotency_key: str | None
) -> CreateVideo:
    async with request.form(max_files=8, max_fields=200) as form:
        fields: dict[str, str] = {}
        reference: bytes | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name == "input_reference":
                    reference = await _read_upload(value, max_reference_bytes)
                continue  # other files (unknown fields) are ignored
            fields.setdefault(name, value)
    if reference is None and fields.get("input_reference"):
        reference = _reference_from_text(fields["input_reference"])
    return CreateVideo(
        prompt=fields.get("prompt"),
        model=fields.get("model") or None,
        size=fields.get("size") or None,
        seconds=_seconds(fields.get("seconds") or None),
        reference=reference,
        idempotency_key=idempotency_key,
    )


async def _read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"input_reference is larger than {max_bytes} bytes.", param="input_reference"
        )
    if not data:
        raise InvalidRequest(
            "input_reference is an empty file.", param="input_reference", code="invalid_image"
        )
    return data


def _from_json(body: bytes, idempotency_key: str | None) -> CreateVideo:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    reference = None
    if data.get("input_reference") is not None:
        reference = _reference_from_json(data["input_reference"])
    return CreateVideo(
        prompt=_text(data, "prompt"),
        model=_text(data, "model"),
        size=_text(data, "size"),
        seconds=_seconds(data.get("seconds")),
        reference=reference,
        idempotency_key=idempotency_key,
    )


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"{name} must be a string.", param=name, code="invalid_type")


def _seconds(value: object) -> int | None:
    """`seconds` as an integer: 10, "10" (OpenAI sends strings) — nothing else."""
    if value is None:
        return None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        return value
    elif isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise InvalidRequest(
        f"seconds must be a whole number of seconds, not {value!r}.",
        param="seconds",
        code="invalid_type",
    )


def _reference_from_json(value: object) -> bytes:
    if isinstance(value, dict):
        if isinstance(value.get("image_url"), str):
            return _reference_from_text(value["image_url"])
        if "file_id" in value:
            raise InvalidRequest(
                "input_reference.file_id is not supported; upload the image "
                "itself as a multipart file.",
                param="input_reference",
                code="unsupported_value",
            )
    if isinstance(value, str):
        return _reference_from_text(value)
    raise InvalidRequest(
        "input_reference must be an image file (multipart upload) or a data: URL.",
        param="input_reference",
        code="invalid_type",
    )


def _reference_from_text(text: str) -> bytes:
    """A data: URL carries the image itself; anything else is refused, never fetched."""
    lowered = text.strip().lower()
    if lowered.startswith("data:"):
        header, _, payload = text.strip().partition(",")
        if not header.lower().endswith(";base64"):
            raise InvalidRequest(
                "input_reference data: URL must be base64-encoded.",
                param="input_reference",
                code="invalid_image",
            )
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest(
                "input_reference data: URL is not valid base64.",
                param="input_reference",
                code="invalid_image",
            ) from None
    if lowered.startswith(("http://", "https://", "ftp://", "file:")):
        raise InvalidRequest(
            "input_reference must be a local image file uploaded with the "
            "request, not a link; links are never fetched.",
            param="input_reference",
            code="invalid_type",
        )
    raise InvalidRequest(
        "input_reference must be an image file uploaded as multipart form data.",
        param="input_reference",
        code="invalid_type",
    )
