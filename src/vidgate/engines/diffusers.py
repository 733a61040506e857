"""The diffusers engine: open-weights text/image-to-video models on local GPUs (or the CPU).

Any diffusers video pipeline the catalog entry names (Wan 2.1/2.2, LTX-Video, CogVideoX,
HunyuanVideo 1.5 …; options in `diffusers_options`). The request is made at the model's
native size for its orientation and then delivered at exactly the requested size
(cover-fit). A duration longer than one pass is made by chaining passes: each later pass
is the image-to-video pipeline started on the previous pass's last frame, whose copy is
dropped, so `seconds * fps` frames are delivered exactly.

Pipelines stay loaded between jobs (one per distinct set of load options), and a worker
runs one job at a time on this engine (`max_jobs = 1`): one model per GPU worker.
Progress counts denoising steps across all passes; a deletion stops at the next step.

torch and diffusers are imported only here, and only when the engine is built:
`pip install vidgate[local]` brings them; the core install and server start without.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image

from vidgate.engines.base import CancelToken, GenerationFailed, GenerationRequest, ProgressFn
from vidgate.engines.diffusers_options import DiffusersOptions, parse, segments_needed
from vidgate.engines.inputs import starting_image
from vidgate.media.encode import Mp4Writer, RGBFrame
from vidgate.media.images import fit_to_size

log = logging.getLogger("vidgate.diffusers")

_ENCODE_SHARE = 0.05  # of the progress bar, after the last denoising step


class DiffusersEngine:
    name = "diffusers"
    max_jobs: int | None = 1

    def __init__(self) -> None:
        import diffusers  # noqa: F401 - fail now (engine unavailable), not at the first job
        import torch  # noqa: F401

        self._pipelines: dict[tuple[Any, ...], tuple[Any, Any | None]] = {}
        self._loading = threading.Lock()

    async def generate(
        self, request: GenerationRequest, progress: ProgressFn, cancel: CancelToken
    ) -> None:
        options = parse(request.options)
        await asyncio.to_thread(self._generate, request, options, progress, cancel)

    def _generate(
        self,
        request: GenerationRequest,
        options: DiffusersOptions,
        progress: ProgressFn,
        cancel: CancelToken,
    ) -> None:
        import torch

        total = request.seconds * options.fps
        passes = segments_needed(total, options.frames)
        t2v, i2v = self._pipelines_for(options)
        start = starting_image(request)
        if (passes > 1 or start is not None) and i2v is None:
            raise GenerationFailed(
                f"This model has no image-to-video pipeline (option `i2v`), which "
                f"{'a reference image' if start is not None else f'{request.seconds} s'} needs.",
                code="unsupported_request",
            )
        width, height = options.native_size(request.width, request.height)
        steps = _StepCounter(passes * options.steps, progress, cancel, 1 - _ENCODE_SHARE)
        generator = torch.Generator(device="cpu")
        generator.manual_seed(options.seed if options.seed is not None else _seed(request))
        if start is not None:
            start = fit_to_size(start, width, height)
        try:
            # Frames go to the encoder pass by pass: a 25 s clip at 720p held whole would
            # be gigabytes. Passes continue until there are enough frames, not a fixed
            # number: pipelines round num_frames to their own rule (LTX turns 8 into 5).
            with Mp4Writer(request.output, request.width, request.height,
                           fps=options.fps) as out:  # fmt: skip
                written, last = 0, None
                while written < total:
                    image = start if last is None else fit_to_size(last, width, height)
                    pipe = t2v if image is None else i2v
                    clip = self._one_pass(pipe, options, request.prompt, image, width, height,
                                          generator, steps)  # fmt: skip
                    cancel.raise_if_cancelled()
                    new = clip if last is None else clip[1:]
                    if not new:
                        raise GenerationFailed("The model returned no new frames.",
                                               code="invalid_output")  # fmt: skip
                    for frame in new[: total - written]:
                        picture = fit_to_size(Image.fromarray(frame), request.width,
                                              request.height)  # fmt: skip
                        out.write(np.asarray(picture))
                    written += len(new[: total - written])
                    last = Image.fromarray(clip[-1])
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise GenerationFailed(
                "The GPU ran out of memory making this video; the operator can enable "
                "offloading, VAE tiling or a smaller native size.",
                code="out_of_memory",
            ) from None
        progress(1.0)

    def _one_pass(
        self,
        pipe: Any,
        options: DiffusersOptions,
        prompt: str,
        image: Image.Image | None,
        width: int,
        height: int,
        generator: Any,
        steps: _StepCounter,
    ) -> list[RGBFrame]:
        kwargs: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": options.negative_prompt or None,
            "height": height,
            "width": width,
            "num_frames": options.frames,
            "num_inference_steps": options.steps,
            "guidance_scale": options.guidance,
            "generator": generator,
            "output_type": "np",
            "callback_on_step_end": steps.callback,
            "frame_rate": options.fps,  # LTX conditions on it
            **options.call,
        }
        if image is not None:
            kwargs["image"] = image
        if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
            result = call_pipeline(pipe, **kwargs)
        else:  # HunyuanVideo 1.5 has no step callback: count the scheduler's steps instead
            with _counting_scheduler_steps(pipe, steps):
                result = call_pipeline(pipe, **kwargs)
        video = np.asarray(result.frames[0])
        if video.dtype != np.uint8:
            if not np.isfinite(video).all():
                raise GenerationFailed(
                    "The model produced invalid values (NaN); try another dtype or seed.",
                    code="invalid_output",
                )
            video = (np.clip(video, 0.0, 1.0) * 255).round().astype(np.uint8)
        return list(video)

    def _pipelines_for(self, options: DiffusersOptions) -> tuple[Any, Any | None]:
        """The loaded (t2v, i2v) pipelines for these options, loading them the first time."""
        with self._loading:
            loaded = self._pipelines.get(options.load_key)
            if loaded is None:
                loaded = self._pipelines[options.load_key] = _load(options)
            return loaded


def _load(options: DiffusersOptions) -> tuple[Any, Any | None]:
    import diffusers
    import torch

    dtype = getattr(torch, options.dtype, None)
    if not isinstance(dtype, torch.dtype):
        raise GenerationFailed(f"Unknown dtype {options.dtype!r}.", code="engine_misconfigured")

    def pipeline_class(name: str) -> Any:
        cls = getattr(diffusers, name, None)
        if cls is None:
            raise GenerationFailed(f"diffusers has no pipeline {name!r}.",
                                   code="engine_misconfigured")  # fmt: skip
        return cls

    t2v_cls = pipeline_class(options.t2v)
    i2v_cls = pipeline_class(options.i2v) if options.i2v else None
    log.info("loading %s from %s (%s on %s)", options.t2v, options.weights, options.dtype,
             options.device)  # fmt: skip
    try:
        t2v = t2v_cls.from_pretrained(options.weights, dtype=dtype)
        _place(t2v, options)
        i2v = None
        if i2v_cls is not None and not options.i2v_weights:
            # The same checkpoint: share the loaded modules instead of a second copy,
            # unless the i2v pipeline needs modules t2v lacks (an image encoder).
            with contextlib.suppress(ValueError, TypeError):
                i2v = i2v_cls.from_pipe(t2v)
        if i2v_cls is not None and i2v is None:
            i2v = i2v_cls.from_pretrained(options.i2v_weights or options.weights, dtype=dtype)
            _place(i2v, options)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise GenerationFailed(
            f"The model could not be loaded from {options.weights}: {exc}",
            code="model_unavailable",
        ) from None
    return t2v, i2v


def _place(pipe: Any, options: DiffusersOptions) -> None:
    """Put a pipeline on its device with the memory/speed options the operator chose."""
    import diffusers
    import torch

    pipe.set_progress_bar_config(disable=True)  # progress goes to the job, not to stderr
    transformer = getattr(pipe, "transformer", None)
    if options.fp8_layerwise and transformer is not None:
        transformer.enable_layerwise_casting(
            storage_dtype=torch.float8_e4m3fn, compute_dtype=getattr(torch, options.dtype)
        )
    if options.cache and transformer is not None:
        config = dict(options.cache)
        config_cls = getattr(diffusers, str(config.pop("type")))
        transformer.enable_cache(config_cls(**config))
    if options.vae_tiling and hasattr(pipe, "vae") and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    if options.offload == "model":
        pipe.enable_model_cpu_offload(device=options.device)
    elif options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=options.device)
    elif options.offload == "group":
        pipe.enable_group_offload(onload_device=torch.device(options.device),
                                  offload_type="leaf_level")  # fmt: skip
    else:
        pipe.to(options.device)
    if options.compile and transformer is not None:
        transformer.compile_repeated_blocks(fullgraph=True)


class _StepCounter:
    """The pipelines' step callback: progress across all passes, and the stop switch."""

    def __init__(self, total: int, progress: ProgressFn, cancel: CancelToken, share: float):
        self.total, self.done = max(1, total), 0
        self.progress, self.cancel, self.share = progress, cancel, share

    def callback(
        self, pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        self.done += 1
        self.progress(self.share * self.done / self.total)
        if self.cancel.cancelled:
            pipe._interrupt = True  # the pipelines check it before each step
        return kwargs


def call_pipeline(pipe: Any, **kwargs: Any) -> Any:
    """Call a pipeline with the arguments it takes: families differ (LTX takes frame_rate,
    HunyuanVideo 1.5 no guidance_scale), and a None means "the pipeline's default"."""
    accepted = inspect.signature(pipe.__call__).parameters
    return pipe(**{k: v for k, v in kwargs.items() if k in accepted and v is not None})


@contextlib.contextmanager
def _counting_scheduler_steps(pipe: Any, steps: _StepCounter) -> Iterator[None]:
    scheduler = pipe.scheduler
    step = scheduler.step

    def counted(*args: Any, **kwargs: Any) -> Any:
        result = step(*args, **kwargs)
        steps.callback(pipe, 0, None, {})
        return result

    scheduler.step = counted  # an instance attribute, shadowing the method until removed
    try:
        yield
    finally:
        del scheduler.step


def _seed(request: GenerationRequest) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(request.video_id.encode()).digest()[:4], "big")

