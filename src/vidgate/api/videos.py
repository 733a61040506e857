"""`/v1/videos`: the seed's create and query, and OpenAI's list, delete, content, remix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from vidgate.api import schemas
from vidgate.api.auth import CurrentKey
from vidgate.api.create_body import read_create
from vidgate.api.errors import error_responses
from vidgate.api.links import LinkSigner
from vidgate.api.responses import content_response
from vidgate.domain import InvalidRequest, NotFound, Variant, Video, VideoStatus
from vidgate.service import VideoService

router = APIRouter(prefix="/v1")

POLL_AFTER_MS = "500"
"""Sent as `openai-poll-after-ms`; the SDK's poll helpers wait this long between GETs."""

_CREATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["model", "prompt"],
                "properties": {
                    "model": {
                        "type": "string",
                        "default": "sora_video2",
                        "description": "A model from GET /v1/models, e.g. "
                        "sora_video2-landscape-hd-15s or sora-2",
                    },
                    "prompt": {"type": "string", "maxLength": 32000},
                    "input_reference": {
                        "type": "string",
                        "format": "binary",
                        "description": "A local image (JPEG, PNG or WebP) "
                        "used as the first frame; not a link",
                    },
                    "size": {"type": "string", "description": "WIDTHxHEIGHT (OpenAI models)"},
                    "seconds": {"type": "string", "description": "Duration (OpenAI models)"},
                },
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["prompt"],
                "properties": {
                    "model": {"type": "string"},
                    "prompt": {"type": "string"},
                    "size": {"type": "string"},
                    "seconds": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "input_reference": {
                        "type": "object",
                        "properties": {
                            "image_url": {"type": "string", "description": "a data: URL"}
                        },
                    },
                },
            }
        },
    },
}


def _service(request: Request) -> VideoService:
    service: VideoService = request.app.state.videos
    return service


def _as_object(request: Request, video: Video) -> schemas.VideoObject:
    url = None
    if video.status == VideoStatus.COMPLETED and video.expires_at is not None:
        signer: LinkSigner = request.app.state.signer
        url = signer.url(video.id, Variant.VIDEO, video.expires_at)
    return schemas.video_object(video, url, _service(request).catalog.dialect(video.model))


@router.post(
    "/videos",
    response_model=schemas.CreatedVideo | schemas.VideoObject,
    openapi_extra={"requestBody": _CREATE_BODY},
    responses=error_responses(400, 401, 413),
    summary="Create a video",
)
async def create_video(request: Request, key: CurrentKey) -> JSONResponse:
    """Queue a video. Answers at once with `status: queued`; poll `GET /v1/videos/{id}`.

    The seed's models answer the seed's eight fields; OpenAI's (`sora-2`, `sora-2-pro`)
    answer the whole video object, as OpenAI did.
    """
    service = _service(request)
    body = await read_create(request, service.limits.max_reference_bytes)
    video, _ = await service.create(key.id, body)
    answer: schemas.CreatedVideo | schemas.VideoObject
    if service.catalog.dialect(video.model) == "openai":
        answer = _as_object(request, video)
    else:
        answer = schemas.created_video(video)
    return JSONResponse(answer.model_dump(), headers={"openai-poll-after-ms": POLL_AFTER_MS})


@router.get(
    "/videos",
    response_model=schemas.VideoList,
    responses=error_responses(400, 401),
    summary="List your videos",
)
async def list_videos(
    request: Request,
    key: CurrentKey,
    after: Annotated[str | None, Query(description="A video id: the page starts after it")] = None,
    limit: Annotated[int, Query(description="1 to 100")] = 20,
    order: Annotated[str, Query(description="asc or desc (by creation)")] = "desc",
) -> schemas.VideoList:
    """Your videos, newest first by default; page with `after=<last_id>`."""
    videos, has_more = await _service(request).list(key.id, after=after, limit=limit, order=order)
    data = [_as_object(request, v) for v in videos]
    return schemas.VideoList(
        data=data,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
        has_more=has_more,
    )


@router.get(
    "/videos/{video_id}",
    response_model=schemas.VideoObject,
    responses=error_responses(401, 404),
    summary="Retrieve a video",
)
async def retrieve_video(
    request: Request, response: Response, key: CurrentKey, video_id: str
) -> schemas.VideoObject:
    """Status, progress and, once completed, `video_url` (a signed link)."""
    video = await _service(request).get(key.id, video_id)
    if video.status in (VideoStatus.QUEUED, VideoStatus.IN_PROGRESS):
        response.headers["openai-poll-after-ms"] = POLL_AFTER_MS
    return _as_object(request, video)


@router.delete(
    "/videos/{video_id}",
    response_model=schemas.DeletedVideo,
    responses=error_responses(401, 404),
    summary="Delete a video",
)
async def delete_video(request: Request, key: CurrentKey, video_id: str) -> schemas.DeletedVideo:
    """Delete a video and its files; a video still generating is cancelled."""
    video = await _service(request).delete(key.id, video_id)
    return schemas.DeletedVideo(id=video.id)


@router.get(
    "/videos/{video_id}/content",
    responses={
        200: {
            "content": {"video/mp4": {}, "image/webp": {}, "image/jpeg": {}},
            "description": "The file",
        },
        **error_responses(400, 401, 404),
    },
    summary="Download a video's content",
)
async def download_content(
    request: Request,
    key: CurrentKey,
    video_id: str,
    variant: Annotated[str, Query(description="video, thumbnail or spritesheet")] = "video",
) -> Response:
    """The MP4 (`video`), a WebP `thumbnail` or a JPEG `spritesheet`."""
    try:
        kind = Variant(variant)
    except ValueError:
        raise InvalidRequest(
            f"variant must be one of video, thumbnail, spritesheet; not '{variant}'.",
            param="variant",
        ) from None
    content = await _service(request).open_content(video_id, kind, owner=key.id)
    return content_response(content, f"{video_id}{kind.filename[kind.filename.index('.') :]}")


@router.post(
    "/videos/{video_id}/remix",
    response_model=schemas.VideoObject,
    responses=error_responses(400, 401, 404),
    summary="Remix a video",
)
async def remix_video(
    request: Request,
    key: CurrentKey,
    video_id: str,
    body: Annotated[schemas.RemixRequest | None, Body()] = None,
) -> schemas.VideoObject:
    """A new video from a completed one with a new prompt; same model, size and duration."""
    video = await _service(request).remix(
        key.id,
        video_id,
        body.prompt if body else None,
        request.headers.get("idempotency-key") or None,
    )
    return _as_object(request, video)


@router.api_route("/videos/{feature}", methods=["POST"], include_in_schema=False)
@router.api_route("/videos/characters/{character_id}", methods=["GET"], include_in_schema=False)
async def unsupported(request: Request, key: CurrentKey) -> None:
    """Edits, extensions and characters (SDK ≥ 2.27) are not offered by this server."""
    raise NotFound(
        f"{request.method} {request.url.path} is not supported by this server.",
        code="unsupported_endpoint",
    )
