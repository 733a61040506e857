"""Video sources. `build_engine` maps an engine name from the catalog to an instance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from vidgate.catalog import ModelEntry
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
    "check_catalog",
]


ENGINES = ("preview", "diffusers", "relay")


def check_catalog(entries: Iterable[ModelEntry]) -> None:
    """Refuse a catalog that names an unknown engine or gives an engine invalid options,
    so the operator learns at start-up, not from failed jobs."""
    for entry in entries:
        if entry.engine not in ENGINES:
            raise ValueError(f"catalog entry {entry.name!r}: unknown engine {entry.engine!r} "
                             f"(one of {', '.join(ENGINES)})")  # fmt: skip
        if entry.engine == "diffusers":
            from vidgate.engines.diffusers_options import check_entry

            check_entry(entry.name, entry.options, entry.seconds)


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
