"""MP4 in and out with PyAV: an H.264 writer for RGB frames, and a probe that reads one back.

Every video vidgate delivers is H.264, yuv420p, in an MP4 whose index sits at the front
(`+faststart`), which is what browsers and phones play without help. The frame rate is a
whole number and each frame lasts exactly 1/fps, so `seconds * fps` frames make a file
of exactly `seconds`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
from numpy.typing import NDArray

RGBFrame = NDArray[np.uint8]
"""One frame: height x width x 3, uint8, RGB."""

YUVFrame = NDArray[np.uint8]
"""One yuv420p frame as PyAV lays it out: (height * 3 / 2) x width, uint8 — the Y plane's
rows, then the U and V planes (each a quarter of Y's size) packed into the rows below."""


@dataclass(frozen=True)
class EncodeOptions:
    """x264 settings. `ultrafast` keeps the CPU preview at a few seconds per clip."""

    preset: str = "ultrafast"
    crf: int = 23
    threads: int = 0  # 0 = as many as x264 sees fit


class Mp4Writer:
    """Write RGB frames to an H.264 MP4; use as a context manager.

    with Mp4Writer(path, 1280, 720, fps=24) as writer:
        for frame in frames:
            writer.write(frame)
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        *,
        fps: int,
        options: EncodeOptions = EncodeOptions(),
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"{width}x{height}: yuv420p needs an even width and height")
        self.path = path
        self.width = width
        self.height = height
        self.frames = 0
        self._container: Any = av.open(
            str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.thread_count = options.threads
        stream.options = {"preset": options.preset, "crf": str(options.crf)}
        self._stream = stream

    def write(self, frame: RGBFrame) -> None:
        """Append an RGB frame (converted to yuv420p by FFmpeg's scaler)."""
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"frame is {frame.shape}, expected {(self.height, self.width, 3)}")
        self._encode(av.VideoFrame.from_ndarray(frame, format="rgb24"))

    def write_yuv420p(self, frame: YUVFrame) -> None:
        """Append a frame already in yuv420p, the encoder's own format (no conversion)."""
        if frame.shape != (self.height * 3 // 2, self.width):
            raise ValueError(
                f"frame is {frame.shape}, expected {(self.height * 3 // 2, self.width)}"
            )
        self._encode(av.VideoFrame.from_ndarray(frame, format="yuv420p"))

    def _encode(self, video_frame: Any) -> None:
        video_frame.pts = self.frames
        self.frames += 1
        self._container.mux(self._stream.encode(video_frame))

    def close(self) -> None:
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode(None))  # flush the encoder
        finally:
            self._container.close()
            self._container = None

    def abort(self) -> None:
        """Close without flushing and remove the partial file."""
        if self._container is not None:
            with contextlib.suppress(Exception):  # the file is being thrown away anyway
                self._container.close()
            self._container = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its first video stream."""

    width: int
    height: int
    duration: float
    """Seconds, from the stream's own timing."""
    fps: float
    frames: int
    codec: str
    pix_fmt: str


def probe(path: Path) -> VideoInfo:
    """Read a video's size, duration, frame count and format (counting frames by demuxing)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for packet in container.demux(stream) if packet.size)
        rate = stream.average_rate or stream.guessed_rate or 0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / av.time_base
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            duration=duration,
            fps=float(rate),
            frames=frames,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
        )


def decode_frames(path: Path) -> Iterator[Any]:
    """The video's frames in order, as PyAV `VideoFrame`s."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)
