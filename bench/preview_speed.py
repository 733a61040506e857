"""Preview-engine render speed against encoding the same frames alone, in the same run.

For each size, the frames are composed once into memory and encoded alone (the
baseline: what any engine pays to deliver these frames), then the engine renders the
same clip end to end (compose + encode + progress + cancel checks). The ratio says
what composing costs on top of encoding; seconds per second of video say whether a
user waits seconds or minutes.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from vidgate.engines.base import CancelToken, GenerationRequest
from vidgate.engines.preview import PreviewOptions, compose_frames, render
from vidgate.media.encode import Mp4Writer

CASES = ((720, 1280, 10), (1280, 720, 10), (1792, 1024, 25))
PROMPT = "a lighthouse at dawn, waves rolling in"


def _encode_only(frames: list[object], out: Path, width: int, height: int, fps: int) -> float:
    start = time.perf_counter()
    with Mp4Writer(out, width, height, fps=fps) as writer:
        for frame in frames:
            writer.write_yuv420p(frame)  # type: ignore[arg-type]
    return time.perf_counter() - start


def run(repeats: int = 2) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    options = PreviewOptions()
    with tempfile.TemporaryDirectory() as tmp:
        for width, height, seconds in CASES:
            request = GenerationRequest(
                video_id="bench", prompt=PROMPT, width=width, height=height,
                seconds=seconds, output=Path(tmp) / "engine.mp4")
            frames = list(compose_frames(request, options.fps))
            encode = min(
                _encode_only(frames, Path(tmp) / "alone.mp4", width, height, options.fps)
                for _ in range(repeats)
            )
            del frames
            engine = []
            for _ in range(repeats):
                start = time.perf_counter()
                render(request, options, lambda _: None, CancelToken())
                engine.append(time.perf_counter() - start)
            best = min(engine)
            label = f"{width}x{height}, {seconds} s @ {options.fps} fps"
            rows.append((f"{label}: encode alone, s", f"{encode:.2f}"))
            rows.append((f"{label}: preview engine, s", f"{best:.2f}"))
            rows.append((f"{label}: ratio engine / encode", f"{best / encode:.2f}"))
            rows.append((f"{label}: s per video second", f"{best / seconds:.2f}"))
    return rows


if __name__ == "__main__":
    for name, value in run():
        print(f"{name:56} {value}")
