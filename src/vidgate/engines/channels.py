"""Relay channels: the upstreams an operator configured, and how healthy each one is.

A channel that fails `failures_before_cooldown` times in a row leaves the rotation for
`cooldown_seconds` and then comes back by itself (one success puts it fully back).
Channels are chosen by priority (higher first); among channels of equal priority, at
random in proportion to their weights. A channel at its `max_in_flight` is skipped.

    [[channels]]
    name = "gpu-box"
    base_url = "http://10.0.0.5:8000/v1"
    api_key = "sk-..."
    dialect = "openai"                  # or "seed"
    models = { "sora-2" = "Wan-AI/Wan2.2-TI2V-5B", "*" = "{model}" }
    priority = 10
    weight = 2
    max_in_flight = 8
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vidgate.engines.upstream import UpstreamClient

DIALECTS = ("openai", "seed")


@dataclass(frozen=True)
class ChannelConfig:
    """One `[[channels]]` table."""

    name: str
    base_url: str
    dialect: str
    models: Mapping[str, str]
    """Our model → the upstream's. "*" matches any model; values may use {model}, {size},
    {seconds} and {orientation} (portrait or landscape)."""
    api_key: str | None = None
    priority: int = 0
    weight: int = 1
    max_in_flight: int = 100
    remix: bool = True
    timeout_seconds: float = 30.0
    poll_seconds: float = 2.0
    max_poll_seconds: float = 10.0
    """Polls of a long job slow down to this (a job polled every 2 s for ten minutes is 300
    requests; thousands of them saturate a worker's event loop)."""
    connections: int = 8
    """HTTP connections to this upstream per worker. Each request's cost grows with the
    pool (httpx: 1.1 ms of CPU per request with 4 connections, 2.7 ms with 64)."""
    retries: int = 2
    failures_before_cooldown: int = 3
    cooldown_seconds: float = 60.0

    def upstream_model(self, model: str, width: int, height: int, seconds: int) -> str | None:
        """What this channel calls our `model` at this size and duration; None: not served."""
        template = self.models.get(model, self.models.get("*"))
        if template is None:
            return None
        orientation = "landscape" if width > height else "portrait"
        return template.format(
            model=model, size=f"{width}x{height}", seconds=seconds, orientation=orientation
        )


def channel_from_table(table: Mapping[str, Any]) -> ChannelConfig:
    """Build a channel from its table; a bad table raises ValueError naming the problem."""
    known = set(ChannelConfig.__dataclass_fields__)
    unknown = set(table) - known
    name = table.get("name", "?")
    if unknown:
        raise ValueError(f"channel {name!r}: unknown settings {', '.join(sorted(unknown))}")
    for required in ("name", "base_url", "dialect", "models"):
        if required not in table:
            raise ValueError(f"channel {name!r} needs `{required}`")
    if table["dialect"] not in DIALECTS:
        raise ValueError(f"channel {name!r}: dialect must be one of {', '.join(DIALECTS)}")
    if not str(table["base_url"]).startswith(("http://", "https://")):
        raise ValueError(f"channel {name!r}: base_url must be an http(s) URL")
    models = table["models"]
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"channel {name!r}: models must map our model names to theirs")
    try:
        config = ChannelConfig(**{**table, "models": {str(k): str(v) for k, v in models.items()}})
    except TypeError as exc:
        raise ValueError(f"channel {name!r}: {exc}") from None
    if min(config.weight, config.max_in_flight, config.connections) < 1:
        raise ValueError(
            f"channel {name!r}: weight, max_in_flight and connections must be at least 1"
        )
    return config


@dataclass
class Channel:
    """A configured channel, its client and its health (this worker's view)."""

    config: ChannelConfig
    client: UpstreamClient
    in_flight: int = 0
    consecutive_failures: int = 0
    cooling_until: float = 0.0
    succeeded: int = 0
    failed: int = 0
    recent_errors: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=10))

    @property
    def name(self) -> str:
        return self.config.name

    def in_rotation(self, now: float) -> bool:
        return now >= self.cooling_until

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.cooling_until = 0.0
        self.succeeded += 1

    def record_failure(self, message: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.failed += 1
        self.consecutive_failures += 1
        self.recent_errors.append((now, message))
        if self.consecutive_failures >= self.config.failures_before_cooldown:
            self.cooling_until = now + self.config.cooldown_seconds
            self.consecutive_failures = 0

    def health(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_url": self.config.base_url,
            "dialect": self.config.dialect,
            "state": "in_rotation" if self.in_rotation(now) else "cooling_down",
            "cooling_until": self.cooling_until if not self.in_rotation(now) else None,
            "in_flight": self.in_flight,
            "max_in_flight": self.config.max_in_flight,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "recent_errors": [{"at": int(at), "message": msg} for at, msg in self.recent_errors],
        }


class ChannelPool:
    """The channels of one relay engine."""

    def __init__(self, configs: Iterable[ChannelConfig], *, rng: random.Random | None = None):
        self.channels = {
            c.name: Channel(c, UpstreamClient(c.base_url, c.api_key, c.dialect,
                                              timeout=c.timeout_seconds,
                                              connections=c.connections))
            for c in configs
        }  # fmt: skip
        self._rng = rng or random.Random()

    def candidates(
        self, model: str, width: int, height: int, seconds: int, *, exclude: Iterable[str] = ()
    ) -> list[Channel]:
        """Channels that serve this model, in the order to try them.

        Healthy channels with room come first, by priority, weighted-random within one
        priority; channels cooling down or full come last, as a last resort.
        """
        now = time.time()
        skip = set(exclude)
        serving = [
            c for c in self.channels.values()
            if c.name not in skip and c.config.upstream_model(model, width, height, seconds)
        ]  # fmt: skip
        ready = [c for c in serving if c.in_rotation(now) and c.in_flight < c.config.max_in_flight]
        rest = [c for c in serving if c not in ready]
        return self._order(ready) + sorted(rest, key=lambda c: c.cooling_until)

    def _order(self, channels: list[Channel]) -> list[Channel]:
        ordered: list[Channel] = []
        for priority in sorted({c.config.priority for c in channels}, reverse=True):
            group = [c for c in channels if c.config.priority == priority]
            while group:
                pick = self._rng.choices(group, weights=[c.config.weight for c in group])[0]
                ordered.append(pick)
                group.remove(pick)
        return ordered

    def health(self) -> list[dict[str, Any]]:
        now = time.time()
        return [c.health(now) for c in self.channels.values()]

    @property
    def capacity(self) -> int:
        return sum(c.config.max_in_flight for c in self.channels.values())

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.client.close()
