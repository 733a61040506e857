"""Relay channels: configuration, model mapping, order of trial, cool-down and return."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from vidgate.engines.channels import ChannelPool, channel_from_table


def _table(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": f"http://{name}:8000/v1", "dialect": "openai",
            "models": {"*": "{model}"}, **extra}


def test_upstream_model_names_are_templates() -> None:
    channel = channel_from_table(_table("a", models={
        "sora-2": "wan-{orientation}-{seconds}s", "sora_video2-landscape": "{model}-{size}"}))
    assert channel.upstream_model("sora-2", 720, 1280, 8) == "wan-portrait-8s"
    assert channel.upstream_model("sora_video2-landscape", 1280, 720, 10) == (
        "sora_video2-landscape-1280x720")
    assert channel.upstream_model("sora-2-pro", 720, 1280, 8) is None  # not served here


@pytest.mark.parametrize(("change", "message"), [
    ({"dialect": "grpc"}, "dialect"),
    ({"base_url": "ftp://x"}, "base_url"),
    ({"models": {}}, "models"),
    ({"wieght": 2}, "unknown settings wieght"),
    ({"connections": 0}, "at least 1"),
])  # fmt: skip
def test_bad_channel_tables_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        channel_from_table({**_table("a"), **change})


def test_a_failing_channel_cools_down_then_comes_back() -> None:
    pool = ChannelPool([channel_from_table(_table("a", failures_before_cooldown=3,
                                                  cooldown_seconds=60))])
    channel = pool.channels["a"]
    now = time.time()
    for _ in range(2):
        channel.record_failure("boom", now)
    assert channel.in_rotation(now)  # two failures are not yet three
    channel.record_failure("boom", now)
    assert not channel.in_rotation(now + 59)
    assert channel.in_rotation(now + 61)
    assert channel.health(now + 1)["state"] == "cooling_down"
    assert [e["message"] for e in channel.health(now)["recent_errors"]] == ["boom"] * 3
    channel.record_success()
    assert channel.in_rotation(now) and channel.consecutive_failures == 0


def test_order_is_priority_then_weight_with_cooling_and_full_channels_last() -> None:
    tables = [_table("low", priority=0), _table("heavy", priority=5, weight=9),
              _table("light", priority=5, weight=1), _table("full", priority=9, max_in_flight=1)]
    pool = ChannelPool([channel_from_table(t) for t in tables], rng=random.Random(7))
    pool.channels["full"].in_flight = 1
    firsts = [pool.candidates("sora-2", 720, 1280, 4)[0].name for _ in range(200)]
    assert set(firsts) == {"heavy", "light"}
    assert firsts.count("heavy") > 150  # 9 : 1
    order = [c.name for c in pool.candidates("sora-2", 720, 1280, 4)]
    assert order[2:] == ["low", "full"]
    pool.channels["heavy"].record_failure("x", time.time())
    pool.channels["heavy"].record_failure("x", time.time())
    pool.channels["heavy"].record_failure("x", time.time())
    assert [c.name for c in pool.candidates("sora-2", 720, 1280, 4, exclude=["low"])] == [
        "light", "full", "heavy"]
