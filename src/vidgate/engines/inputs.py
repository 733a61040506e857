"""What engines start a video from, read the same way by each of them."""

from __future__ import annotations

import av
from PIL import Image

from vidgate.engines.base import GenerationFailed, GenerationRequest
from vidgate.media.posters import first_frame


def starting_image(request: GenerationRequest) -> Image.Image | None:
    """The picture the clip starts from: the reference, or the remixed video's first frame."""
    try:
        if request.reference is not None:
            with Image.open(request.reference) as image:
                return image.convert("RGB")
        if request.source_video is not None:
            return first_frame(request.source_video)
    except (OSError, ValueError, av.error.FFmpegError) as exc:
        raise GenerationFailed(
            f"The starting image could not be read: {exc}", code="invalid_source"
        ) from None
    return None
