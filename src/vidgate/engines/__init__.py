"""Video sources. `build_engine` maps an engine name from the catalog to an instance."""

from __future__ import annotations

from vidgate.engines.base import (
    CancelToken,
    Engine,
    GenerationCancelled,
    GenerationFailed,
    GenerationRequest,
    ProgressFn,
    SaveStateFn,
)

__all__ = [
    "CancelToken",
    "Engine",
    "GenerationCancelled",
    "GenerationFailed",
    "GenerationRequest",
    "ProgressFn",
    "SaveStateFn",
    "build_engine",
]


def build_engine(name: str) -> Engine:
    """The engine registered under `name` (as written in the catalog)."""
    if name == "preview":
        from vidgate.engines.preview import PreviewEngine

        return PreviewEngine()
    raise ValueError(f"unknown engine {name!r}")
