"""The diffusers engine: what vidgate adds around the model, and (on a GPU) model speed.

On the CPU (always): for each tiny random pipeline family of the test suite, one job of
2 s at 8 fps (two chained passes) through the engine, warm (pipelines loaded), against
the same pipeline calls made directly (the baseline, same run). The difference is the
engine's own work — frame fitting, encoding, progress — as a share of the job; loading
is reported apart (the cold job minus the warm one).

With CUDA (`VIDGATE_CONFIG` naming real `diffusers` models): seconds per generated video
second for each configured model, and the speed-up of each memory/speed option against
that model's own settings.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import tinypipelines
from vidgate.engines.base import CancelToken, GenerationRequest
from vidgate.engines.diffusers import DiffusersEngine, call_pipeline
from vidgate.engines.diffusers_options import parse

FPS, SECONDS = 8, 2
CUDA_OPTIONS: dict[str, dict[str, Any]] = {
    "offload = model": {"offload": "model"},
    "vae_tiling": {"vae_tiling": True},
    "fp8_layerwise": {"fp8_layerwise": True},
    "FirstBlockCache 0.2": {"cache": {"type": "FirstBlockCacheConfig", "threshold": 0.2}},
    "compile": {"compile": True},
}


def _job(engine: DiffusersEngine, options: Mapping[str, Any], out: Path, width: int,
         height: int, seconds: int) -> float:
    request = GenerationRequest(video_id="bench", prompt="a red boat on the sea", width=width,
                                height=height, seconds=seconds, output=out, options=options)
    start = time.perf_counter()
    asyncio.run(engine.generate(request, lambda _: None, CancelToken()))
    return time.perf_counter() - start


def _direct(engine: DiffusersEngine, options: Mapping[str, Any]) -> float:
    """The same passes as the engine makes, calling the loaded pipelines directly."""
    parsed = parse(options)
    t2v, i2v = engine._pipelines_for(parsed)
    width, height = parsed.native_size(96, 64)
    start = time.perf_counter()
    kwargs = {"prompt": "a red boat on the sea", "height": height, "width": width,
              "num_frames": parsed.frames, "num_inference_steps": parsed.steps,
              "guidance_scale": parsed.guidance, "frame_rate": parsed.fps, "output_type": "pil"}
    frames = call_pipeline(t2v, **kwargs).frames[0]
    if i2v is not None:
        call_pipeline(i2v, image=frames[-1], **kwargs)
    return time.perf_counter() - start


def cpu_rows() -> list[tuple[str, str]]:
    rows = []
    engine = DiffusersEngine()
    with tempfile.TemporaryDirectory() as tmp:
        for family in sorted(tinypipelines.FAMILIES):
            info = tinypipelines.build(family, Path(tmp) / family)
            width, height, frames = info["works"][0]
            options: dict[str, Any] = {
                "weights": str(info["t2v_dir"]), "t2v": info["t2v"], "i2v": info["i2v"],
                "native": {"landscape": f"{width}x{height}", "portrait": f"{height}x{width}"},
                "frames": frames, "fps": FPS, "steps": 4, "guidance": 1.0,
                "dtype": "float32", "device": "cpu",
            }  # fmt: skip
            if info["i2v_dir"] != info["t2v_dir"]:
                options["i2v_weights"] = str(info["i2v_dir"])
            out = Path(tmp) / f"{family}.mp4"
            cold = _job(engine, options, out, 96, 64, SECONDS)
            warm = min(_job(engine, options, out, 96, 64, SECONDS) for _ in range(2))
            direct = min(_direct(engine, options) for _ in range(2))
            rows += [
                (f"{family}: job cold / warm / pipelines alone, s",
                 f"{cold:.2f} / {warm:.2f} / {direct:.2f}"),
                (f"{family}: engine's own share of a warm job", f"{(warm - direct) / warm:.0%}"),
                (f"{family}: loading, s", f"{cold - warm:.2f}"),
            ]  # fmt: skip
    return rows


def cuda_rows() -> list[tuple[str, str]]:
    from vidgate.catalog import load_catalog
    from vidgate.config import Settings

    rows = []
    engine = DiffusersEngine()
    entries = [e for e in load_catalog(Settings().models).entries if e.engine == "diffusers"]
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            width, height = entry.sizes[0]
            seconds = entry.seconds[0]
            out = Path(tmp) / "out.mp4"
            _job(engine, entry.options, out, width, height, seconds)  # load, warm up
            base = _job(engine, entry.options, out, width, height, seconds)
            rows.append((f"{entry.name}: s per video second", f"{base / seconds:.1f}"))
            for label, change in CUDA_OPTIONS.items():
                varied = {**entry.options, **change}
                _job(engine, varied, out, width, height, seconds)
                timed = _job(engine, varied, out, width, height, seconds)
                rows.append((f"{entry.name}: speed-up with {label}", f"{base / timed:.2f}"))
    return rows


def run() -> list[tuple[str, str]]:
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return cpu_rows() + (cuda_rows() if torch.cuda.is_available() else [])


if __name__ == "__main__":
    for name, value in run():
        print(f"{name:56} {value}")
