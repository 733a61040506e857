"""The preview engine: a real, watchable clip on the CPU, with no model weights.

It renders exactly the size and duration asked for. With a reference image the clip is
that image, filmed by a slow camera move (zoom and drift), starting on the image itself
as the first frame; a remix starts from the first frame of the video it remixes; with
neither, a landscape is drawn from the prompt (its colours, light and moving lights are
seeded by the prompt's hash, so one prompt always gives the same clip). The prompt runs
along the bottom as a caption.

Catalog options: `fps` (default 24), `preset` (x264, default ultrafast), `crf` (23).
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import math
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from vidgate.engines.base import CancelToken, GenerationFailed, GenerationRequest, ProgressFn
from vidgate.engines.inputs import starting_image
from vidgate.media.encode import EncodeOptions, Mp4Writer, RGBFrame, YUVFrame
from vidgate.media.images import fit_to_size

DEFAULT_FPS = 24
# The camera films a canvas this much larger than the frame, so zooming in stays sharp.
_CANVAS_SCALE = 1.25
_MAX_ZOOM = 1.2
_CAPTION_SHARE = 0.22  # of the frame's height, at the bottom
_ORBS = 5

# Fonts with wide coverage (CJK first) where the system has them; Pillow's own otherwise.
_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@dataclass(frozen=True)
class PreviewOptions:
    fps: int = DEFAULT_FPS
    encode: EncodeOptions = field(default_factory=EncodeOptions)

    @classmethod
    def from_catalog(cls, options: Mapping[str, Any]) -> PreviewOptions:
        try:
            fps = int(options.get("fps", DEFAULT_FPS))
            encode = EncodeOptions(
                preset=str(options.get("preset", EncodeOptions.preset)),
                crf=int(options.get("crf", EncodeOptions.crf)),
            )
        except (TypeError, ValueError) as exc:
            raise GenerationFailed(
                f"The model's preview options are invalid: {exc}", code="engine_misconfigured"
            ) from None
        if not 1 <= fps <= 120:
            raise GenerationFailed(
                f"The model's fps option must be 1 to 120, not {fps}.",
                code="engine_misconfigured",
            )
        return cls(fps=fps, encode=encode)


class PreviewEngine:
    """CPU-only; runs each job in a thread so the worker's event loop stays free."""

    name = "preview"
    max_jobs: int | None = None

    async def generate(
        self, request: GenerationRequest, progress: ProgressFn, cancel: CancelToken
    ) -> None:
        options = PreviewOptions.from_catalog(request.options)
        await asyncio.to_thread(render, request, options, progress, cancel)


def render(
    request: GenerationRequest, options: PreviewOptions, progress: ProgressFn, cancel: CancelToken
) -> None:
    """Render the whole clip to `request.output` (blocking)."""
    total = request.seconds * options.fps
    with Mp4Writer(
        request.output, request.width, request.height, fps=options.fps, options=options.encode
    ) as out:
        for index, frame in enumerate(compose_frames(request, options.fps)):
            cancel.raise_if_cancelled()
            out.write_yuv420p(frame)
            progress((index + 1) / total)


def compose_frames(request: GenerationRequest, fps: int) -> Iterator[YUVFrame]:
    """The clip's frames, `seconds * fps` of them, each a new yuv420p array.

    Frames are composed in yuv420p, the encoder's own format: scaling and blending there
    cost a fraction of what they cost in RGB (10 s of 720x1280 took 5.1 s to render
    composed in RGB, 2.2 s in yuv420p, on a 2-core machine).
    """
    width, height = request.width, request.height
    total = request.seconds * fps
    rng = np.random.default_rng(_seed(request.prompt))
    start = starting_image(request)
    canvas_w, canvas_h = _even(width * _CANVAS_SCALE), _even(height * _CANVAS_SCALE)
    if start is not None:
        canvas = _Planes(_to_yuv(np.asarray(fit_to_size(start, canvas_w, canvas_h))))
        orbs = None
    else:
        canvas = _Planes(_to_yuv(_landscape(canvas_w, canvas_h, rng)))
        orbs = _Orbs(width, height, rng)
    camera = _Camera(canvas, width, height, rng)
    caption = _Caption(request.prompt, width, height)
    for index in range(total):
        frame = camera.film(index / max(1, total - 1))
        planes = _Planes(frame)
        if orbs is not None:
            orbs.draw(planes, index / fps)
        caption.draw(planes)
        yield frame


def _seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big")


def _even(value: float) -> int:
    """The nearest even integer: yuv420p positions and sizes must be even."""
    return round(value / 2) * 2


class _Planes:
    """The Y, U and V planes of a yuv420p frame, as views into its one buffer."""

    def __init__(self, frame: YUVFrame) -> None:
        self.frame = frame
        height, width = frame.shape[0] * 2 // 3, frame.shape[1]
        flat = frame.reshape(-1)
        luma, chroma = width * height, width * height // 4
        self.width, self.height = width, height
        self.y = flat[:luma].reshape(height, width)
        self.u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
        self.v = flat[luma + chroma :].reshape(height // 2, width // 2)

    def crop(self, left: int, top: int, width: int, height: int) -> YUVFrame:
        """A new yuv420p frame of this region (left, top, width, height all even)."""
        l2, t2, w2, h2 = left // 2, top // 2, width // 2, height // 2
        return np.concatenate(
            [
                self.y[top : top + height, left : left + width].reshape(-1),
                self.u[t2 : t2 + h2, l2 : l2 + w2].reshape(-1),
                self.v[t2 : t2 + h2, l2 : l2 + w2].reshape(-1),
            ]
        ).reshape(height * 3 // 2, width)


def _to_yuv(rgb: RGBFrame) -> YUVFrame:
    """RGB to yuv420p with FFmpeg's scaler: the same conversion the encoder would do."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return np.asarray(frame.reformat(format="yuv420p").to_ndarray(), dtype=np.uint8)


class _Camera:
    """A slow zoom into the canvas with a drift towards a seeded point, eased in and out.

    At t = 0 the camera sees the whole canvas, so the first frame is the start image.
    """

    def __init__(self, canvas: _Planes, width: int, height: int,
                 rng: np.random.Generator) -> None:
        self.canvas = canvas
        self.width, self.height = width, height
        self.target = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))

    def film(self, t: float) -> YUVFrame:
        canvas_w, canvas_h = self.canvas.width, self.canvas.height
        eased = 0.5 - 0.5 * math.cos(math.pi * t)
        zoom = 1.0 + (_MAX_ZOOM - 1.0) * eased
        view_w, view_h = _even(canvas_w / zoom), _even(canvas_h / zoom)
        # The view's centre slides from the canvas centre towards the target.
        cx = canvas_w * (0.5 + (self.target[0] - 0.5) * eased)
        cy = canvas_h * (0.5 + (self.target[1] - 0.5) * eased)
        left = _even(min(max(cx - view_w / 2, 0), canvas_w - view_w))
        top = _even(min(max(cy - view_h / 2, 0), canvas_h - view_h))
        view = av.VideoFrame.from_ndarray(
            self.canvas.crop(left, top, view_w, view_h), format="yuv420p"
        )
        scaled = view.reformat(
            width=self.width, height=self.height, format="yuv420p", interpolation="BILINEAR"
        )
        return np.asarray(scaled.to_ndarray(), dtype=np.uint8)


def _landscape(width: int, height: int, rng: np.random.Generator) -> RGBFrame:
    """A sky, a sun and rolling hills, in colours drawn from the seed."""
    hue = float(rng.uniform(0, 1))
    sky_top = _hsv(hue, 0.55, 0.35)
    sky_low = _hsv(hue + 0.08, 0.45, 0.95)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    image = (sky_top * (1 - ys) + sky_low * ys) * np.ones((1, width, 1), np.float32)
    # The sun: a soft disc.
    sx, sy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.15, 0.4) * height
    radius = rng.uniform(0.05, 0.09) * min(width, height)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = np.hypot(xx - sx, yy - sy)
    glow = np.clip(1.4 - distance / radius, 0.0, 1.0)[..., None]
    image = image * (1 - glow) + _hsv(hue + 0.12, 0.25, 1.0) * glow
    # Three ridges of hills, nearer ones darker and lower.
    x = np.arange(width, dtype=np.float32) / width
    for layer in range(3):
        base = 0.55 + 0.13 * layer
        ridge = np.full_like(x, base)
        for _ in range(3):
            amplitude, waves, phase = rng.uniform(0.01, 0.05), rng.uniform(1, 4), rng.uniform()
            ridge += amplitude * np.sin(2 * np.pi * (waves * x + phase))
        colour = _hsv(hue + 0.35 + 0.05 * layer, 0.5, 0.55 - 0.15 * layer)
        below = (ys[:, :, 0] >= ridge[None, :])[..., None]
        image = np.where(below, colour, image)
    return np.asarray(np.clip(image * 255, 0, 255), dtype=np.uint8)


def _hsv(h: float, s: float, v: float) -> NDArray[np.float32]:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


class _Overlay:
    """An RGBA picture prepared for blending onto yuv420p planes (alpha per plane)."""

    def __init__(self, rgba: NDArray[np.uint8]) -> None:
        height, width = rgba.shape[:2]
        alpha = rgba[..., 3].astype(np.float32) / 255.0
        planes = _Planes(_to_yuv(rgba[..., :3]))
        # Chroma is half size: its alpha is the mean of each 2x2 block of the luma's.
        alpha_half = alpha.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        self.alpha = (alpha, alpha_half, alpha_half)
        self.premultiplied = tuple(
            plane * a for plane, a in zip((planes.y, planes.u, planes.v), self.alpha, strict=True)
        )
        self.width, self.height = width, height

    def draw(self, frame: _Planes, left: int, top: int) -> None:
        """Blend onto `frame` with the top-left corner at (left, top), both even."""
        for scale, plane, alpha, premultiplied in zip(
            (1, 2, 2), (frame.y, frame.u, frame.v), self.alpha, self.premultiplied, strict=True
        ):
            x, y = left // scale, top // scale
            region = plane[y : y + alpha.shape[0], x : x + alpha.shape[1]]
            region[...] = region * (1 - alpha) + premultiplied


class _Orbs:
    """Soft lights drifting on seeded paths across the frame."""

    def __init__(self, width: int, height: int, rng: np.random.Generator) -> None:
        self.width, self.height = width, height
        size = max(4, _even(min(width, height) * 0.08))
        r = np.linspace(-1, 1, size, dtype=np.float32)
        alpha = (np.clip(1 - np.hypot(r[:, None], r[None, :]), 0, 1) ** 2 * 0.8 * 255)
        self.size = size
        self.orbs = []
        for _ in range(_ORBS):
            rgba = np.empty((size, size, 4), np.uint8)
            rgba[..., :3] = _hsv(float(rng.uniform()), 0.3, 1.0) * 255
            rgba[..., 3] = alpha.astype(np.uint8)
            path = (rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.25),
                    rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi))
            self.orbs.append((_Overlay(rgba), path))

    def draw(self, frame: _Planes, seconds: float) -> None:
        span_w, span_h = self.width - self.size, self.height - self.size
        for overlay, (speed_x, speed_y, phase_x, phase_y) in self.orbs:
            x = 0.5 + 0.45 * math.sin(2 * math.pi * speed_x * seconds + phase_x)
            y = 0.5 + 0.45 * math.sin(2 * math.pi * speed_y * seconds + phase_y)
            overlay.draw(frame, _even(x * span_w), _even(y * span_h))


class _Caption:
    """The prompt, wrapped in white over a dark band along the bottom of the frame."""

    def __init__(self, prompt: str, width: int, height: int) -> None:
        band_h = max(2, _even(height * _CAPTION_SHARE))
        self.top = height - band_h
        font_size = max(10, min(width, height) // 28)
        font = _font(font_size)
        chars_per_line = max(8, int(width * 0.9 / (font_size * 0.55)))
        lines = textwrap.wrap(" ".join(prompt.split()), chars_per_line)
        max_lines = max(1, int(band_h * 0.8 / (font_size * 1.3)))
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], textwrap.shorten(
                " ".join(lines[max_lines - 1 :]), chars_per_line, placeholder=" …")]
        layer = Image.new("RGBA", (width, band_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        # Darker towards the bottom, so the text reads over any picture.
        for y in range(band_h):
            draw.line([(0, y), (width, y)], fill=(0, 0, 0, int(170 * y / band_h)))
        y = band_h - int(font_size * 1.3) * len(lines) - font_size // 2
        for line in lines:
            draw.text((width * 0.05, y), line, font=font, fill=(255, 255, 255, 255))
            y += int(font_size * 1.3)
        self.overlay = _Overlay(np.asarray(layer))

    def draw(self, frame: _Planes) -> None:
        self.overlay.draw(frame, 0, self.top)


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            try:
                return ImageFont.truetype(candidate, size)
            except OSError:
                continue
    return ImageFont.load_default(size)
