"""The relay engine against real upstreams: other vidgate processes and a misbehaving server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import auth, toml_value, wait_for
from tests.serverproc import VidgateProcess, free_port
from vidgate.media.encode import probe

FAST = {"poll_seconds": 0.2, "retries": 1, "timeout_seconds": 3}
ADMIN_KEY = "admin-secret"


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[str]:
    """The misbehaving server's root URL (modes under /{mode}/v1)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakeupstream", str(port)],
                            cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/stats", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the fake upstream did not start"
            time.sleep(0.1)
    yield base
    proc.kill()  # a graceful stop would wait for the `stall` requests
    proc.wait(10)


def _front(tmp_path: Path, channels: list[dict[str, Any]], *, name: str = "front",
           models: tuple[str, ...] = ("sora-2", "sora_video2-landscape")) -> VidgateProcess:
    """A vidgate whose models are relayed to `channels`."""
    lines = []
    for model in models:
        lines += ["[[models]]", f'name = "{model}"', 'engine = "relay"']
        if model == "sora-2":
            lines += ['dialect = "openai"', 'sizes = ["1280x720", "720x1280"]', "seconds = [4, 8]"]
        else:
            lines += ['sizes = ["1280x720"]', "seconds = [10]"]
    for channel in channels:
        lines.append("[[channels]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in {**FAST, **channel}.items()]
    config = tmp_path / f"{name}.toml"
    config.write_text("\n".join(lines) + "\n")
    return VidgateProcess(tmp_path / name, env={"VIDGATE_CONFIG": str(config),
                                                "VIDGATE_LEASE_SECONDS": "3",
                                                "VIDGATE_HOUSEKEEPING_SECONDS": "1",
                                                "VIDGATE_ADMIN_KEY": ADMIN_KEY}).start()


def _slow_relay(tmp_path: Path, server: VidgateProcess,
                key_name: str) -> tuple[VidgateProcess, str]:
    """A front whose 10 s model runs upstream as a 25 s HD one: seconds to act mid-job.

    Returns the front and the upstream key its channel uses."""
    upstream_key = server.create_key(key_name)
    channel = {"name": "vg", "base_url": f"{server.base_url}/v1", "api_key": upstream_key,
               "dialect": "seed", "models": {"*": "sora_video2-landscape-hd-25s"}}
    return _front(tmp_path, [channel], models=("sora_video2-landscape",)), upstream_key


def _upstream_videos(upstream: VidgateProcess, key: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{upstream.base_url}/v1/videos?limit=100", headers=auth(key)).json()
    data: list[dict[str, Any]] = listed["data"]
    return data


def _create(client: httpx.Client, key: str, **fields: str) -> str:
    response = client.post("/v1/videos", headers=auth(key), files={
        k: (None, v) for k, v in {"prompt": "relayed", **fields}.items()})
    assert response.status_code == 200, response.text
    video_id: str = response.json()["id"]
    return video_id


def test_relays_to_another_vidgate_in_both_dialects(
    tmp_path: Path, server: VidgateProcess
) -> None:
    upstream_key = server.create_key("relay-upstream")
    front = _front(tmp_path, [
        {"name": "vg-openai", "base_url": f"{server.base_url}/v1", "api_key": upstream_key,
         "dialect": "openai", "models": {"sora-2": "sora-2"}},
        {"name": "vg-seed", "base_url": f"{server.base_url}/v1", "api_key": upstream_key,
         "dialect": "seed", "models": {"sora_video2-landscape": "sora_video2-{orientation}"}},
    ])
    try:
        key = front.create_key()
        with httpx.Client(base_url=front.base_url, timeout=30) as client:
            openai_id = _create(client, key, model="sora-2", seconds="8", size="720x1280")
            seed_id = _create(client, key, model="sora_video2-landscape")
            seen: list[dict[str, Any]] = []
            done = wait_for(client, openai_id, key, seen=seen)
            assert done["status"] == "completed", done
            seed_done = wait_for(client, seed_id, key)
            assert seed_done["status"] == "completed", seed_done
            # Our own link, on our own server, with our own retention.
            assert done["video_url"].startswith(front.base_url + "/files/")
            for video, size, seconds in ((done, (720, 1280), 8), (seed_done, (1280, 720), 10)):
                mp4 = tmp_path / f"{video['id']}.mp4"
                mp4.write_bytes(httpx.get(video["video_url"], timeout=30).content)
                info = probe(mp4)
                assert (info.width, info.height) == size
                assert info.duration == pytest.approx(seconds, abs=0.05)
            thumbnail = client.get(f"/v1/videos/{openai_id}/content?variant=thumbnail",
                                   headers=auth(key))
            assert thumbnail.status_code == 200 and thumbnail.content[8:12] == b"WEBP"
        upstream = _upstream_videos(server, upstream_key)
        assert sorted((v["model"], v["status"]) for v in upstream) == [
            ("sora-2", "completed"), ("sora_video2-landscape", "completed")]
        _remix_and_delete_pass_upstream(front, key, openai_id, server, upstream_key)
    finally:
        front.stop()


def _remix_and_delete_pass_upstream(front: VidgateProcess, key: str, video_id: str,
                                    upstream: VidgateProcess, upstream_key: str) -> None:
    """A remix is made upstream from the upstream's copy; a deletion reaches upstream."""
    with sqlite3.connect(front.data_dir / "vidgate.db") as conn:
        (state,) = conn.execute("SELECT engine_state FROM videos WHERE id = ?",
                                (video_id,)).fetchone()
    upstream_id = json.loads(state)["upstream_id"]
    with httpx.Client(base_url=front.base_url, timeout=30) as client:
        remix = client.post(f"/v1/videos/{video_id}/remix", headers=auth(key),
                            json={"prompt": "the same, at night"}).json()
        done = wait_for(client, remix["id"], key)
        assert done["status"] == "completed" and done["remixed_from_video_id"] == video_id
        remixed_upstream = [v for v in _upstream_videos(upstream, upstream_key)
                            if v["remixed_from_video_id"] == upstream_id]
        assert len(remixed_upstream) == 1
        assert client.delete(f"/v1/videos/{video_id}", headers=auth(key)).status_code == 200
    deadline = time.monotonic() + 30
    while any(v["id"] == upstream_id for v in _upstream_videos(upstream, upstream_key)):
        assert time.monotonic() < deadline, "the upstream copy was not deleted"
        time.sleep(0.3)


def test_restart_mid_relay_follows_the_same_upstream_job(
    tmp_path: Path, server: VidgateProcess
) -> None:
    front, upstream_key = _slow_relay(tmp_path, server, "relay-restart")
    key = front.create_key()
    with httpx.Client(base_url=front.base_url, timeout=30) as client:
        video_id = _create(client, key, model="sora_video2-landscape")
    db = front.data_dir / "vidgate.db"
    deadline = time.monotonic() + 60
    while True:  # until the upstream job id is saved
        with sqlite3.connect(db) as conn:
            (state,) = conn.execute("SELECT engine_state FROM videos WHERE id = ?",
                                    (video_id,)).fetchone()
        if state and json.loads(state).get("upstream_id"):
            break
        assert time.monotonic() < deadline, "the relay never saved its upstream id"
        time.sleep(0.05)
    front.kill()
    again = VidgateProcess(front.data_dir, env=front.env)
    again.port, again.base_url = front.port, front.base_url
    again.start()
    try:
        with httpx.Client(base_url=again.base_url, timeout=30) as client:
            done = wait_for(client, video_id, key, timeout=180)
        # The upstream model is 25 s; ours is 10 s: never delivered as something else.
        assert done["status"] == "failed" and done["error"]["code"] == "upstream_mismatch"
        upstream = _upstream_videos(server, upstream_key)
        assert len(upstream) == 1, upstream  # one submission, followed across the restart
        with sqlite3.connect(db) as conn:
            (attempts,) = conn.execute("SELECT attempts FROM videos WHERE id = ?",
                                       (video_id,)).fetchone()
        assert attempts == 2
    finally:
        again.stop()


def test_faults_fail_over_and_are_reported(
    tmp_path: Path, server: VidgateProcess, fake_upstream: str
) -> None:
    upstream_key = server.create_key("relay-failover")
    good = {"name": "good", "base_url": f"{server.base_url}/v1", "api_key": upstream_key,
            "dialect": "openai", "models": {"*": "{model}"}, "priority": 0}
    bad = [
        {"name": mode, "base_url": f"{fake_upstream}/{mode}/v1", "dialect": "openai",
         "models": {"*": "{model}"}, "priority": 10 - n, "failures_before_cooldown": 1,
         "cooldown_seconds": 600}
        for n, mode in enumerate(("error500", "garbage", "stall"))
    ]
    front = _front(tmp_path, [*bad, good], models=("sora-2",))
    try:
        key = front.create_key()
        with httpx.Client(base_url=front.base_url, timeout=30) as client:
            video_id = _create(client, key, model="sora-2", seconds="4", size="1280x720")
            done = wait_for(client, video_id, key, timeout=120)
            assert done["status"] == "completed", done
            # The broken channels are cooling down now: the next job goes straight to good.
            second = wait_for(client, _create(client, key, model="sora-2", seconds="4",
                                              size="1280x720"), key, timeout=120)
            assert second["status"] == "completed"
        creates = httpx.get(f"{fake_upstream}/stats").json()["creates"]
        # Each broken channel was tried twice (retries = 1), then never again (cooling down).
        assert {m: creates.get(m) for m in ("error500", "garbage", "stall")} == {
            "error500": 2, "garbage": 2, "stall": 2}
        assert len(_upstream_videos(server, upstream_key)) == 2
        with sqlite3.connect(front.data_dir / "vidgate.db") as conn:
            (state,) = conn.execute("SELECT engine_state FROM videos WHERE id = ?",
                                    (video_id,)).fetchone()
        assert json.loads(state)["tried"] == ["error500", "garbage", "stall"]
        _check_channel_health(front)
    finally:
        front.stop()


def _check_channel_health(front: VidgateProcess) -> None:
    """The operator sees which channels cool down, over the admin API and the CLI."""
    url = f"{front.base_url}/admin/channels"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=auth("not-the-admin-key")).status_code == 401
    expected = {"error500": "cooling_down", "garbage": "cooling_down",
                "stall": "cooling_down", "good": "in_rotation"}
    deadline = time.monotonic() + 20
    while True:  # workers report every 5 s: wait for the report after both jobs
        channels = {c["name"]: c for c in httpx.get(url, headers=auth(ADMIN_KEY)).json()["data"]}
        if channels.get("good", {}).get("succeeded") == 2:
            break
        assert time.monotonic() < deadline, channels
        time.sleep(0.5)
    assert {n: c["state"] for n, c in channels.items()} == expected
    assert channels["good"]["in_flight"] == 0
    assert "500" in channels["error500"]["recent_errors"][-1]["message"]
    assert "not JSON" in channels["garbage"]["recent_errors"][-1]["message"]
    assert "Timeout" in channels["stall"]["recent_errors"][-1]["message"]
    cli = subprocess.run([sys.executable, "-m", "vidgate", "channels"], env=front.env,
                         check=True, capture_output=True, text=True).stdout
    lines = {line.split()[1]: line for line in cli.splitlines()[1:]}
    assert "cooling_down" in lines["error500"] and "in_rotation" in lines["good"]


def test_throttling_is_retried_and_upstream_failures_pass_through(
    tmp_path: Path, fake_upstream: str
) -> None:
    channels = [{"name": mode, "base_url": f"{fake_upstream}/{mode}/v1", "dialect": "openai",
                 "models": {"sora-2": "m"} if mode == "throttle" else {"*": "{model}"},
                 "priority": 10 if mode == "throttle" else 0}
                for mode in ("throttle", "fail")]
    front = _front(tmp_path, channels)
    try:
        key = front.create_key()
        with httpx.Client(base_url=front.base_url, timeout=30) as client:
            throttled = wait_for(client, _create(client, key, model="sora-2", seconds="4",
                                                 size="1280x720"), key, timeout=60)
            assert throttled["status"] == "completed", throttled
            failed = wait_for(client, _create(client, key, model="sora_video2-landscape"), key,
                              timeout=60)
        assert failed["status"] == "failed"
        assert failed["error"] == {"code": "moderation_blocked",
                                   "message": "The prompt was blocked."}
    finally:
        front.stop()


def test_upstream_killed_mid_job_fails_over(tmp_path: Path) -> None:
    first = VidgateProcess(tmp_path / "up1").start()
    second = VidgateProcess(tmp_path / "up2").start()
    keys = [first.create_key(), second.create_key()]
    channels = [
        {"name": f"up{n}", "base_url": f"{up.base_url}/v1", "api_key": key, "dialect": "seed",
         "models": {"*": "{model}"}, "priority": 10 - n}
        for n, (up, key) in enumerate(((first, keys[0]), (second, keys[1])))
    ]
    front = _front(tmp_path, channels, models=("sora_video2-landscape",))
    try:
        key = front.create_key()
        with httpx.Client(base_url=front.base_url, timeout=30) as client:
            video_id = _create(client, key, model="sora_video2-landscape")
            deadline = time.monotonic() + 60
            while not _upstream_videos(first, keys[0]):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            first.kill()
            done = wait_for(client, video_id, key, timeout=180)
        assert done["status"] == "completed", done
        assert [v["status"] for v in _upstream_videos(second, keys[1])] == ["completed"]
    finally:
        front.stop()
        second.stop()
        first.stop()


def test_deleting_a_running_relayed_video_cancels_it_upstream(
    tmp_path: Path, server: VidgateProcess
) -> None:
    front, upstream_key = _slow_relay(tmp_path, server, "relay-cancel")
    try:
        key = front.create_key()
        with httpx.Client(base_url=front.base_url, timeout=30) as client:
            video_id = _create(client, key, model="sora_video2-landscape")
            deadline = time.monotonic() + 60
            while not _upstream_videos(server, upstream_key):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert client.delete(f"/v1/videos/{video_id}", headers=auth(key)).status_code == 200
        deadline = time.monotonic() + 30
        while _upstream_videos(server, upstream_key):
            assert time.monotonic() < deadline, "the upstream job was not cancelled"
            time.sleep(0.2)
        with sqlite3.connect(front.data_dir / "vidgate.db") as conn:
            (status, code) = conn.execute("SELECT status, error_code FROM videos WHERE id = ?",
                                          (video_id,)).fetchone()
        assert (status, code) == ("failed", "cancelled")
    finally:
        front.stop()
