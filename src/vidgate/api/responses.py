"""Turning a service `Content` into an HTTP response."""

from __future__ import annotations

from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from vidgate.service import Content


def content_response(content: Content, filename: str) -> Response:
    if content.path is not None:
        # FileResponse answers Range requests, which browsers use to seek in a video.
        return FileResponse(
            content.path,
            media_type=content.content_type,
            filename=filename,
            content_disposition_type="inline",
        )
    if content.redirect_url is not None:
        return RedirectResponse(content.redirect_url, status_code=302)
    assert content.stream is not None
    return StreamingResponse(
        content.stream,
        media_type=content.content_type,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
