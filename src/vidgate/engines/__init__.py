"""Video sources. `build_engine` maps an engine name from the catalog to an instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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


def build_engine(name: str, *, channels: Iterable[Mapping[str, Any]] = ()) -> Engine:
    """The engine registered under `name` (as written in the catalog).

    `channels` are the operator's `[[channels]]` tables, for the relay engine.
    """
    if name == "preview":
        from vidgate.engines.preview import PreviewEngine

        return PreviewEngine()
    if name == "diffusers":
        from vidgate.engines.diffusers import DiffusersEngine

        return DiffusersEngine()  # ImportError without `pip install vidgate[local]`
    if name == "relay":
        from vidgate.engines.channels import channel_from_table
        from vidgate.engines.relay import RelayEngine

        return RelayEngine([channel_from_table(table) for table in channels])
    raise ValueError(f"unknown engine {name!r}")
