"""`/files/...`: the signed links behind `video_url`, served without an API key."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from vidgate.api.errors import error_responses
from vidgate.api.links import LinkSigner
from vidgate.api.responses import content_response
from vidgate.domain import NotFound, Variant
from vidgate.service import VideoService

router = APIRouter()

_BY_FILENAME = {v.filename: v for v in Variant}


@router.api_route(
    "/files/{video_id}/{filename}",
    methods=["GET", "HEAD"],
    responses=error_responses(403, 404),
    include_in_schema=True,
    summary="Download a video's file through a signed link",
)
async def signed_file(
    request: Request, video_id: str, filename: str, expires: str = Query(""), sig: str = Query("")
) -> Response:
    """The target of `video_url`: needs no Authorization header, only a valid signature."""
    signer: LinkSigner = request.app.state.signer
    signer.verify(video_id, filename, expires, sig)
    variant = _BY_FILENAME.get(filename)
    if variant is None:
        raise NotFound(f"No file '{filename}'.", param="filename")
    service: VideoService = request.app.state.videos
    content = await service.open_content(video_id, variant, owner=None)
    return content_response(content, f"{video_id}{filename[filename.index('.') :]}")
