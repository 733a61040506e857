"""The `diffusers` engine's settings: one catalog entry's `options` table, validated.

    [[models]]
    name = "wan-5b"
    engine = "diffusers"
    sizes = ["1280x704", "704x1280"]
    seconds = [5, 10]
    [models.options]
    weights = "/models/Wan2.2-TI2V-5B-Diffusers"   # a local directory (or a hub id)
    t2v = "WanPipeline"                              # text-to-video pipeline class
    i2v = "WanImageToVideoPipeline"                  # image-to-video: references, chaining
    native = { landscape = "1280x704", portrait = "704x1280" }
    frames = 121                                     # per pass (the model's own rule)
    fps = 24
    steps = 50
    guidance = 5.0
    dtype = "bfloat16"
    device = "cuda"
    offload = "model"               # none | model | sequential | group
    vae_tiling = true
    fp8_layerwise = false           # store transformer weights in float8, compute in dtype
    cache = { type = "FirstBlockCacheConfig", threshold = 0.2 }   # any diffusers cache config
    compile = false                 # torch.compile of the transformer's repeated blocks
    call = { max_sequence_length = 512 }   # extra keyword arguments for every pipeline call
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vidgate.engines.base import GenerationFailed

OFFLOAD_MODES = ("none", "model", "sequential", "group")
_KNOWN = {
    "weights", "i2v_weights", "t2v", "i2v", "native", "frames", "fps", "steps", "guidance",
    "negative_prompt", "dtype", "device", "offload", "vae_tiling", "fp8_layerwise", "cache",
    "compile", "call", "seed",
}  # fmt: skip


@dataclass(frozen=True)
class DiffusersOptions:
    weights: str
    t2v: str
    native: Mapping[str, tuple[int, int]]
    """Generation size per orientation ("landscape", "portrait", optionally "square")."""
    frames: int
    fps: int
    i2v: str | None = None
    i2v_weights: str | None = None
    """The image-to-video weights, when they are not the text-to-video ones (Wan 2.1)."""
    steps: int = 30
    guidance: float = 5.0
    negative_prompt: str = ""
    dtype: str = "bfloat16"
    device: str = "cuda"
    offload: str = "none"
    vae_tiling: bool = False
    fp8_layerwise: bool = False
    cache: Mapping[str, Any] | None = None
    compile: bool = False
    call: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None

    @property
    def load_key(self) -> tuple[Any, ...]:
        """What identifies one loaded pipeline: jobs with the same key share it."""
        cache = tuple(sorted(self.cache.items())) if self.cache else None
        return (self.weights, self.t2v, self.i2v, self.i2v_weights, self.dtype, self.device,
                self.offload, self.vae_tiling, self.fp8_layerwise, cache, self.compile)  # fmt: skip

    def native_size(self, width: int, height: int) -> tuple[int, int]:
        """The model's generation size for the orientation of width x height."""
        if width == height and "square" in self.native:
            return self.native["square"]
        return self.native["landscape" if width >= height else "portrait"]


def parse(options: Mapping[str, Any]) -> DiffusersOptions:
    """Validate one catalog entry's options; a bad one fails the job with what is wrong."""
    try:
        return _parse(options)
    except (KeyError, TypeError, ValueError) as exc:
        raise GenerationFailed(
            f"The model's diffusers options are invalid: {exc}", code="engine_misconfigured"
        ) from None


def _parse(options: Mapping[str, Any]) -> DiffusersOptions:
    unknown = set(options) - _KNOWN
    if unknown:
        raise ValueError(f"unknown options {', '.join(sorted(unknown))}")
    for required in ("weights", "t2v", "native", "frames", "fps"):
        if required not in options:
            raise KeyError(f"`{required}` is required")
    native = {}
    for orientation, size in dict(options["native"]).items():
        if orientation not in ("landscape", "portrait", "square"):
            raise ValueError(f"native sizes are landscape, portrait or square, not {orientation}")
        width, height = (int(v) for v in str(size).lower().split("x"))
        native[orientation] = (width, height)
    if not {"landscape", "portrait"} <= set(native):
        raise ValueError("native needs a landscape and a portrait size")
    offload = str(options.get("offload", "none"))
    if offload not in OFFLOAD_MODES:
        raise ValueError(f"offload must be one of {', '.join(OFFLOAD_MODES)}")
    frames, fps = int(options["frames"]), int(options["fps"])
    if frames < 2 or fps < 1:
        raise ValueError("frames must be at least 2 and fps at least 1")
    cache = options.get("cache")
    if cache is not None and "type" not in cache:
        raise ValueError("cache needs a `type`, e.g. FirstBlockCacheConfig")
    return DiffusersOptions(
        weights=str(options["weights"]),
        t2v=str(options["t2v"]),
        i2v=str(options["i2v"]) if options.get("i2v") else None,
        i2v_weights=str(options["i2v_weights"]) if options.get("i2v_weights") else None,
        native=native,
        frames=frames,
        fps=fps,
        steps=int(options.get("steps", 30)),
        guidance=float(options.get("guidance", 5.0)),
        negative_prompt=str(options.get("negative_prompt", "")),
        dtype=str(options.get("dtype", "bfloat16")),
        device=str(options.get("device", "cuda")),
        offload=offload,
        vae_tiling=bool(options.get("vae_tiling", False)),
        fp8_layerwise=bool(options.get("fp8_layerwise", False)),
        cache=dict(cache) if cache is not None else None,
        compile=bool(options.get("compile", False)),
        call=dict(options.get("call", {})),
        seed=int(options["seed"]) if options.get("seed") is not None else None,
    )


def segments_needed(total_frames: int, frames_per_pass: int) -> int:
    """Passes to make `total_frames`: the first gives all its frames, each later pass
    starts on the previous one's last frame and adds `frames_per_pass - 1`."""
    if total_frames <= frames_per_pass:
        return 1
    extra = total_frames - frames_per_pass
    return 1 + -(-extra // (frames_per_pass - 1))


def check_entry(name: str, options: Mapping[str, Any], seconds: tuple[int, ...]) -> None:
    """Refuse, at start-up, an entry whose options are invalid or whose durations it can't
    make (longer than one pass with no image-to-video pipeline to chain with)."""
    try:
        parsed = _parse(options)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"catalog entry {name!r}: diffusers options: {exc}") from None
    longest = max(seconds) * parsed.fps
    if parsed.i2v is None and longest > parsed.frames:
        raise ValueError(
            f"catalog entry {name!r}: {max(seconds)} s is {longest} frames, more than one "
            f"pass of {parsed.frames}; chaining passes needs an image-to-video pipeline (i2v)"
        )
