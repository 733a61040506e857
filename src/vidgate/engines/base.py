"""The engine protocol: what every video source implements.

An engine turns one `GenerationRequest` into an MP4 file at `request.output`, reporting
progress as it goes and stopping when asked. Engines never touch the database or the
storage; the worker owns both (see `vidgate.worker`).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ProgressFn = Callable[[float], None]
"""Called with the fraction done (0.0 to 1.0). Safe to call from any thread."""

SaveStateFn = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Persists what an engine needs to resume a job after a restart (JSON-serialisable).
Raises GenerationCancelled when the job is no longer this worker's to run."""


async def _nowhere(_: Mapping[str, Any]) -> None:
    """The default `save_state`: keep nothing (a job run outside the queue)."""


class GenerationCancelled(Exception):
    """The generation was cancelled."""


class GenerationFailed(Exception):
    """The engine could not produce the video."""

    def __init__(self, message: str, code: str = "generation_failed") -> None:
        super().__init__(message)
        self.code = code


class CancelToken:
    """A flag the worker sets to stop a running generation; engines poll it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise GenerationCancelled()


@dataclass(frozen=True)
class GenerationRequest:
    """Everything an engine needs for one video, already validated."""

    video_id: str
    prompt: str
    width: int
    height: int
    seconds: int
    output: Path
    """Where the engine writes the finished MP4 (H.264, yuv420p, faststart)."""
    reference: Path | None = None
    """An image already decoded once and re-saved as PNG; the first frame's content."""
    source_video: Path | None = None
    """For a remix: the MP4 being remixed."""
    model: str = ""
    """The catalog model the client asked for."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The catalog entry's engine options (fps, pipeline, ...)."""
    state: Mapping[str, Any] | None = None
    """What this engine saved (`save_state`) for this job on an earlier attempt."""
    source_state: Mapping[str, Any] | None = None
    """For a remix: what the engine saved for the video being remixed."""
    save_state: SaveStateFn = _nowhere
    """Durably records `state` for a later attempt; await it before relying on it."""


class Engine(Protocol):
    """A source of videos. One instance serves many jobs, possibly concurrently."""

    name: str
    max_jobs: int | None
    """How many jobs one worker may run on this engine at once; None: the worker's
    `concurrency` (right for engines that use the CPU or GPU; a relay, which only
    waits on upstreams, runs many more)."""

    async def generate(
        self, request: GenerationRequest, progress: ProgressFn, cancel: CancelToken
    ) -> None:
        """Write the video for `request` to `request.output`.

        Raises GenerationCancelled when `cancel` was set, GenerationFailed for a failure
        that should fail the job with a message for the client.
        """
        ...
