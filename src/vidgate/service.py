"""The use cases: create, get, list, delete, remix a video, and find its files.

Services raise domain errors (`vidgate.domain`), never HTTP ones; the api renders them.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from vidgate import catalog as catalog_module
from vidgate.catalog import Catalog
from vidgate.domain import (
    ApiKey,
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Variant,
    Video,
    VideoStatus,
)
from vidgate.media import images
from vidgate.storage import ObjectNotFound, Storage
from vidgate.store.keys import KeyRepository
from vidgate.store.videos import NewVideo, VideoRepository


@dataclass(frozen=True)
class CreateVideo:
    """A create request after parsing, before validation."""

    prompt: str | None
    model: str | None = None
    size: str | None = None
    seconds: int | None = None
    reference: bytes | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int = 32000
    max_reference_bytes: int = 20 * 1024 * 1024
    max_reference_pixels: int = 40_000_000


@dataclass(frozen=True)
class Content:
    """Where to get a file's bytes: a local file, a presigned link, or a stream."""

    content_type: str
    path: Path | None = None
    redirect_url: str | None = None
    stream: AsyncIterator[bytes] | None = None


def reference_key(video_id: str) -> str:
    return f"videos/{video_id}/reference.png"


def media_key(prefix: str, variant: Variant) -> str:
    return f"{prefix}{variant.filename}"


class VideoService:
    def __init__(
        self,
        repo: VideoRepository,
        storage: Storage,
        catalog: Catalog,
        *,
        limits: Limits = Limits(),
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.storage = storage
        self.catalog = catalog
        self.limits = limits
        self._on_queued = on_queued

    async def create(self, owner: str, request: CreateVideo) -> tuple[Video, bool]:
        """Queue a new video; returns it and whether it is new (idempotent replays aren't)."""
        prompt = self._check_prompt(request.prompt)
        spec = self.catalog.resolve(
            request.model or catalog_module.DEFAULT_MODEL, prompt, request.size, request.seconds
        )
        video_id = f"video_{uuid.uuid4()}"
        if request.reference is not None:
            png = await asyncio.to_thread(self._normalise_reference, request.reference)
            # Stored before the row exists, so a claimed job always finds its reference.
            await self.storage.put_bytes(reference_key(video_id), png, "image/png")
        video, created = await self.repo.insert(
            NewVideo(
                id=video_id,
                owner=owner,
                model=spec.model,
                engine=spec.engine,
                prompt=prompt,
                width=spec.width,
                height=spec.height,
                seconds=spec.seconds,
                created_at=int(time.time()),
                has_reference=request.reference is not None,
                idempotency_key=request.idempotency_key,
            )
        )
        if created:
            self._on_queued()
        elif request.reference is not None:
            await self.storage.delete_prefix(f"videos/{video_id}/")
        return video, created

    async def get(self, owner: str, video_id: str) -> Video:
        video = await self.repo.get(video_id, owner)
        if video is None:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
        return video

    async def list(
        self, owner: str, *, after: str | None, limit: int, order: str
    ) -> tuple[list[Video], bool]:
        if not 1 <= limit <= 100:
            raise InvalidRequest("limit must be between 1 and 100.", param="limit")
        if order not in ("asc", "desc"):
            raise InvalidRequest("order must be 'asc' or 'desc'.", param="order")
        page = await self.repo.list_page(
            owner, after=after, limit=limit, descending=order == "desc"
        )
        if page is None:
            raise InvalidRequest(f"No video found with id '{after}' to page after.", param="after")
        return page

    async def delete(self, owner: str, video_id: str) -> Video:
        """Delete a video; a running one is cancelled by its worker at the next heartbeat."""
        video = await self.repo.mark_deleted(video_id, owner, int(time.time()))
        if video is None:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
        # Files go at once, unless a worker must also tell the engine (a relayed video's
        # upstream copy): then its housekeeping purges both.
        if video.status != VideoStatus.IN_PROGRESS and video.engine_state is None:
            await self.storage.delete_prefix(f"videos/{video_id}/")
            await self.repo.mark_purged(video_id, int(time.time()))
        return video

    async def remix(
        self, owner: str, video_id: str, prompt: str | None, idempotency_key: str | None = None
    ) -> Video:
        """A new video like a completed one, with a new prompt."""
        source = await self.get(owner, video_id)
        prompt = self._check_prompt(prompt)
        if source.status != VideoStatus.COMPLETED or source.media_prefix is None:
            raise InvalidRequest(
                f"Video '{video_id}' is {source.status.value}; only a "
                "completed video can be remixed.",
                param="video_id",
                code="video_not_ready",
            )
        if _expired(source):
            raise InvalidRequest(
                f"Video '{video_id}' has expired and can't be remixed.",
                param="video_id",
                code="video_expired",
            )
        video, created = await self.repo.insert(
            NewVideo(
                id=f"video_{uuid.uuid4()}",
                owner=owner,
                model=source.model,
                engine=source.engine,
                prompt=prompt,
                width=source.width,
                height=source.height,
                seconds=source.seconds,
                created_at=int(time.time()),
                remixed_from_video_id=source.id,
                idempotency_key=idempotency_key,
            )
        )
        if created:
            self._on_queued()
        return video

    async def open_content(
        self, video_id: str, variant: Variant, owner: str | None, *, link_seconds: int = 3600
    ) -> Content:
        """How to deliver a completed video's file (any owner when `owner` is None)."""
        key = await self.content_key(video_id, variant, owner)
        path = self.storage.local_path(key)
        if path is not None:
            if not path.is_file():
                raise NotFound(
                    f"The {variant.value} of video '{video_id}' is gone.",
                    param="variant",
                    code="content_missing",
                )
            return Content(variant.content_type, path=path)
        url = await self.storage.presigned_get_url(key, link_seconds)
        if url is not None:
            return Content(variant.content_type, redirect_url=url)
        try:
            await self.storage.size(key)
        except ObjectNotFound:
            raise NotFound(
                f"The {variant.value} of video '{video_id}' is gone.",
                param="variant",
                code="content_missing",
            ) from None
        return Content(variant.content_type, stream=self.storage.stream(key))

    async def content_key(self, video_id: str, variant: Variant, owner: str | None) -> str:
        """The storage key of a completed video's file (any owner when `owner` is None)."""
        video = await self.repo.get(video_id, owner)
        if video is None:
            raise NotFound(f"No video found with id '{video_id}'.", param="video_id")
        if video.status != VideoStatus.COMPLETED or video.media_prefix is None:
            raise NotFound(
                f"Video '{video_id}' is {video.status.value}; its content is "
                "available once it has completed.",
                param="video_id",
                code="video_not_ready",
            )
        if _expired(video):
            raise NotFound(
                f"Video '{video_id}' has expired; its content was deleted.",
                param="video_id",
                code="video_expired",
            )
        return media_key(video.media_prefix, variant)

    def _check_prompt(self, prompt: str | None) -> str:
        if prompt is None or not prompt.strip():
            raise InvalidRequest(
                "prompt is required and must not be empty.",
                param="prompt",
                code="missing_required_parameter" if prompt is None else None,
            )
        if len(prompt) > self.limits.max_prompt_chars:
            raise InvalidRequest(
                f"prompt is {len(prompt)} characters; at most "
                f"{self.limits.max_prompt_chars} are accepted.",
                param="prompt",
            )
        return prompt

    def _normalise_reference(self, data: bytes) -> bytes:
        """Decode the upload once, refuse what isn't a sane image, keep it as PNG."""
        if len(data) > self.limits.max_reference_bytes:
            raise PayloadTooLarge(
                f"input_reference is {len(data)} bytes; at most "
                f"{self.limits.max_reference_bytes} are accepted.",
                param="input_reference",
            )
        try:
            image = images.load_reference(data, max_pixels=self.limits.max_reference_pixels)
        except images.ImageRejected as exc:
            raise InvalidRequest(str(exc), param="input_reference", code="invalid_image") from None
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)
        return out.getvalue()


def _expired(video: Video) -> bool:
    return video.expires_at is not None and video.expires_at <= time.time()


class KeyService:
    """API keys: who is calling."""

    def __init__(self, repo: KeyRepository) -> None:
        self.repo = repo

    async def authenticate(self, token: str) -> ApiKey:
        key = await self.repo.authenticate(token)
        if key is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return key
