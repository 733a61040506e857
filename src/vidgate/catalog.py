"""The model catalog: model names → what to render and which engine renders it.

The catalog is data: `catalog.toml` beside this module is the default table, and the
operator's config file adds or replaces entries by name.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from vidgate.domain import InvalidRequest, NotFound, VideoSpec

DEFAULT_MODEL = "sora-2"
"""What OpenAI's API assumed when `model` was left out."""

DIALECTS = ("seed", "openai")


@dataclass(frozen=True)
class ModelEntry:
    """One catalog entry."""

    name: str
    engine: str
    sizes: tuple[tuple[int, int], ...]
    seconds: tuple[int, ...]
    aliases: tuple[str, ...] = ()
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    dialect: str = "seed"
    """How videos of this model are shown: "seed" (`seconds` an integer, the seed's
    eight-field create answer) or "openai" (`seconds` a string, the full video object
    from create), as each API answered its own model names."""

    @property
    def size_names(self) -> list[str]:
        return [f"{w}x{h}" for w, h in self.sizes]


class Catalog:
    """The models this server offers, looked up by name or alias."""

    def __init__(self, entries: Iterable[ModelEntry]):
        self.entries: list[ModelEntry] = list(entries)
        self._by_name: dict[str, ModelEntry] = {}
        for entry in self.entries:
            for name in (entry.name, *entry.aliases):
                self._by_name[name] = entry

    def dialect(self, name: str) -> str:
        """The dialect of a model's videos; the seed's for a model no longer offered."""
        entry = self._by_name.get(name)
        return entry.dialect if entry is not None else "seed"

    def get(self, name: str) -> ModelEntry:
        entry = self._by_name.get(name)
        if entry is None:
            raise NotFound(
                f"The model '{name}' does not exist.", param="model", code="model_not_found"
            )
        return entry

    def resolve(self, model: str, prompt: str, size: str | None, seconds: int | None) -> VideoSpec:
        """Turn a request's model/size/seconds into exactly what will be delivered.

        A size or duration the model can't deliver is refused, never quietly replaced.
        """
        try:
            entry = self.get(model)
        except NotFound as exc:
            # 404 is what OpenAI answers for an unknown model, but for a create it is a bad
            # field in the request: keep the same message and code, with status 400.
            raise InvalidRequest(exc.message, param="model", code="model_not_found") from None
        if size is None:
            width, height = entry.sizes[0]
        else:
            parsed = parse_size(size)
            if parsed not in entry.sizes:
                raise InvalidRequest(
                    f"size '{size}' is not available for model '{model}'; "
                    f"choose one of {', '.join(entry.size_names)}.",
                    param="size",
                    code="unsupported_value",
                )
            width, height = parsed
        if seconds is None:
            seconds = entry.seconds[0]
        elif seconds not in entry.seconds:
            raise InvalidRequest(
                f"seconds '{seconds}' is not available for model '{model}'; "
                f"choose one of {', '.join(str(s) for s in entry.seconds)}.",
                param="seconds",
                code="unsupported_value",
            )
        return VideoSpec(
            model=model,
            engine=entry.engine,
            prompt=prompt,
            width=width,
            height=height,
            seconds=seconds,
        )


def parse_size(size: str) -> tuple[int, int]:
    """'720x1280' → (720, 1280); anything else is an InvalidRequest on `size`."""
    parts = size.strip().lower().split("x")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        width, height = int(parts[0]), int(parts[1])
        if width > 0 and height > 0:
            return width, height
    raise InvalidRequest(
        f"size '{size}' is not WIDTHxHEIGHT, e.g. 720x1280.", param="size", code="invalid_value"
    )


def entry_from_table(table: Mapping[str, Any]) -> ModelEntry:
    """Build an entry from one `[[models]]` table; a bad table raises ValueError."""
    try:
        name = str(table["name"])
        sizes = tuple(parse_size(str(s)) for s in table["sizes"])
        seconds = tuple(int(s) for s in table["seconds"])
    except (KeyError, TypeError, InvalidRequest) as exc:
        raise ValueError(f"catalog entry {dict(table)!r} is invalid: {exc}") from None
    if not sizes or not seconds:
        raise ValueError(f"catalog entry {name!r} needs at least one size and one duration")
    dialect = str(table.get("dialect", "seed"))
    if dialect not in DIALECTS:
        raise ValueError(f"catalog entry {name!r}: dialect must be one of {', '.join(DIALECTS)}")
    for w, h in sizes:
        if w % 2 or h % 2:
            raise ValueError(f"catalog entry {name!r}: {w}x{h} is odd; H.264 needs even sizes")
    return ModelEntry(
        name=name,
        engine=str(table.get("engine", "preview")),
        sizes=sizes,
        seconds=seconds,
        aliases=tuple(str(a) for a in table.get("aliases", ())),
        description=str(table.get("description", "")),
        options=dict(table.get("options", {})),
        dialect=dialect,
    )


def load_catalog(overrides: Iterable[Mapping[str, Any]] = ()) -> Catalog:
    """The built-in table with the operator's entries merged in by name."""
    text = resources.files("vidgate").joinpath("catalog.toml").read_text("utf-8")
    tables: dict[str, Mapping[str, Any]] = {t["name"]: t for t in tomllib.loads(text)["models"]}
    for table in overrides:
        if "name" not in table:
            raise ValueError(f"catalog entry {dict(table)!r} has no name")
        if table.get("enabled", True) is False:
            tables.pop(str(table["name"]), None)
        else:
            tables[str(table["name"])] = table
    return Catalog(entry_from_table(t) for t in tables.values())
