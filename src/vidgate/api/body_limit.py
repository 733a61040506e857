"""Bound request bodies before anything buffers them (uploads spool to disk otherwise)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidgate.api.errors import envelope
from vidgate.domain import PayloadTooLarge


class BodyLimit:
    """Refuse bodies over `max_bytes`: up front by Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                response = envelope(
                    413,
                    f"The request body is larger than {self.max_bytes} bytes.",
                    code="payload_too_large",
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(
                        f"The request body is larger than {self.max_bytes} bytes."
                    )
            return message

        await self.app(scope, limited_receive, send)
