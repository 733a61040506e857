"""Wire models: the seed's schemas field for field, plus OpenAI's list/delete shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vidgate.domain import Video


class VideoError(BaseModel):
    code: str = Field(description="A machine-readable reason, e.g. generation_failed")
    message: str = Field(description="What went wrong, for a person")


class CreatedVideo(BaseModel):
    """The seed's answer to a create: the job as queued."""

    id: str = Field(
        description="video_<uuid>", examples=["video_c24cfb41-7dc1-4072-9a7e-a179d41e0e0d"]
    )
    object: Literal["video"] = "video"
    model: str
    status: str = Field(description="queued | in_progress | completed | failed")
    progress: int | None = Field(description="null until a worker picks the job up")
    created_at: int = Field(description="Unix seconds")
    seconds: int = Field(description="Duration of the video in seconds")
    size: str = Field(description="WIDTHxHEIGHT", examples=["720x1280"])


class VideoObject(BaseModel):
    """The seed's answer to a query: the job and, once completed, its link."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: str = Field(description="queued | in_progress | completed | failed")
    progress: int = Field(description="0-100")
    created_at: int
    completed_at: int | None
    expires_at: int | None = Field(description="When video_url and the files stop working")
    seconds: int | str = Field(
        description="Duration: an integer for the seed's models, a string such as \"8\" "
        "for OpenAI's (as each API answered)"
    )
    size: str
    remixed_from_video_id: str | None
    error: VideoError | None
    video_url: str | None = Field(
        description="Signed link to the MP4; needs no Authorization header; null until completed"
    )


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class DeletedVideo(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class RemixRequest(BaseModel):
    prompt: str | None = Field(default=None, description="The new prompt")


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "vidgate"
    # vidgate's extensions: what the model delivers.
    sizes: list[str]
    seconds: list[int]
    description: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def created_video(video: Video) -> CreatedVideo:
    return CreatedVideo(
        id=video.id,
        model=video.model,
        status=video.status.value,
        progress=None,
        created_at=video.created_at,
        seconds=video.seconds,
        size=video.size,
    )


def video_object(video: Video, video_url: str | None, dialect: str) -> VideoObject:
    error = None
    if video.error_code is not None:
        error = VideoError(code=video.error_code, message=video.error_message or "")
    return VideoObject(
        id=video.id,
        model=video.model,
        status=video.status.value,
        progress=video.progress,
        created_at=video.created_at,
        completed_at=video.completed_at,
        expires_at=video.expires_at,
        seconds=str(video.seconds) if dialect == "openai" else video.seconds,
        size=video.size,
        remixed_from_video_id=video.remixed_from_video_id,
        error=error,
        video_url=video_url,
    )
