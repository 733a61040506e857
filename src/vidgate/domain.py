"""The domain: videos, their states, the spec a request resolves to, and the errors.

A video moves through these states; the `videos` row is also the queue entry::

    queued ──claim──▶ in_progress ──finish──▶ completed
      ▲                   │   │
      └──lease lapsed─────┘   └──engine error / attempts exhausted──▶ failed

Deleting a video hides it at once; a worker running it sees the deletion at its next
heartbeat and stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class VideoStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class Variant(StrEnum):
    """The files a completed video has."""

    VIDEO = "video"
    THUMBNAIL = "thumbnail"
    SPRITESHEET = "spritesheet"

    @property
    def filename(self) -> str:
        return {
            "video": "video.mp4",
            "thumbnail": "thumbnail.webp",
            "spritesheet": "spritesheet.jpg",
        }[self.value]

    @property
    def content_type(self) -> str:
        return {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}[
            self.value
        ]


@dataclass(frozen=True)
class VideoSpec:
    """What a create request resolved to: the catalog entry, size and duration to deliver."""

    model: str
    engine: str
    prompt: str
    width: int
    height: int
    seconds: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class Video:
    """One video as the service sees it (a `videos` row)."""

    id: str
    owner: str
    model: str
    engine: str
    prompt: str
    width: int
    height: int
    seconds: int
    status: VideoStatus
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    remixed_from_video_id: str | None
    error_code: str | None
    error_message: str | None
    has_reference: bool
    media_prefix: str | None
    """Where the finished files live in storage (set when it completes)."""
    engine_state: Mapping[str, Any] | None = None
    """What the engine saved about this job (e.g. a relayed job's upstream id)."""

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class ApiKey:
    """A client's key; the token itself is never stored."""

    id: str
    name: str
    token_prefix: str
    created_at: int
    revoked_at: int | None


# --- errors -------------------------------------------------------------------------------
# Each carries what the OpenAI error envelope needs; the api renders them in one place.
# Never use 408/409/429/5xx for a permanent failure: the SDK retries those, duplicating jobs.


class VidgateError(Exception):
    """A request vidgate refuses."""

    status_code = 400
    error_type = "invalid_request_error"
    default_code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code


class InvalidRequest(VidgateError):
    """The request is malformed or asks for something that can't be done."""

    default_code = "invalid_value"


class PayloadTooLarge(VidgateError):
    """The request body or an uploaded file is too large."""

    status_code = 413
    default_code = "payload_too_large"


class AuthenticationFailed(VidgateError):
    """No valid API key was given."""

    status_code = 401
    default_code = "invalid_api_key"


class NotFound(VidgateError):
    """The thing asked for does not exist (or belongs to another key)."""

    status_code = 404
    default_code = "not_found"


class LinkRefused(VidgateError):
    """A signed link was tampered with or has expired."""

    status_code = 403
    default_code = "invalid_signature"
