"""Reference images: decode an upload safely, and fit an image to a video's frame.

An upload is refused unless it is a JPEG, PNG or WebP that decodes completely, and its
pixel count is checked from the header before any pixel is decoded, so a small file that
unpacks into gigabytes (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "MPO": "JPEG"}
"""Pillow's format name → what the message calls it (MPO is a JPEG from a phone camera)."""


class ImageRejected(Exception):
    """The upload is not an image vidgate accepts; the message says why, for the client."""


def load_reference(data: bytes, *, max_pixels: int) -> Image.Image:
    """Decode an uploaded image to RGB, upright (EXIF orientation applied)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own bomb limit; ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageRejected(
            "input_reference is not an image; upload a JPEG, PNG or WebP file."
        ) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(max_pixels) from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            f"input_reference is a {image.format} image; upload a JPEG, PNG or WebP file."
        )
    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, width, height)
    if width < 2 or height < 2:
        raise ImageRejected(f"input_reference is {width}x{height}; that is too small to use.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()  # the first frame only, for animated PNG/WebP
            upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageRejected(f"input_reference could not be decoded: {exc}") from None
    return _to_rgb(upright)


def _too_many_pixels(max_pixels: int, width: int = 0, height: int = 0) -> ImageRejected:
    size = f" is {width}x{height}" if width else " has too many pixels"
    return ImageRejected(
        f"input_reference{size}; at most {max_pixels:,} pixels are accepted."
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with transparency laid over black (what a video frame shows behind it)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (0, 0, 0))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def fit_to_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover `width`x`height` and crop the overflow evenly (no bars, no stretch).

    A reference whose shape differs from the video's loses its edges rather than gaining
    black bars: the first frame is then the reference's centre at the video's exact size.
    """
    return ImageOps.fit(
        image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS
    )
