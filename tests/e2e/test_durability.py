"""Accepted jobs survive SIGKILL; API and workers run as separate processes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.e2e.helpers import auth, wait_for
from tests.serverproc import VidgateProcess

FAST_LEASE = {"VIDGATE_LEASE_SECONDS": "2", "VIDGATE_WORKER_CONCURRENCY": "1"}


def _rows(data_dir: Path) -> list[tuple[str, str, int, str | None]]:
    with sqlite3.connect(data_dir / "vidgate.db") as db:
        return db.execute("SELECT id, status, attempts, media_prefix FROM videos "
                          "ORDER BY seq").fetchall()


def test_sigkill_loses_no_job_and_runs_none_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = VidgateProcess(data, env=FAST_LEASE).start()
    key = first.create_key()
    with httpx.Client(base_url=first.base_url, timeout=30) as client:
        ids = [client.post("/v1/videos", headers=auth(key),
                           data={"model": "sora_video2-landscape", "prompt": f"job {n}"}
                           ).json()["id"] for n in range(3)]
        deadline = time.monotonic() + 60
        while not any(s == "in_progress" for _, s, _, _ in _rows(data)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    first.kill()
    statuses = {s for _, s, _, _ in _rows(data)}
    assert "in_progress" in statuses and "queued" in statuses

    second = VidgateProcess(data, env=FAST_LEASE)
    second.port = first.port  # same address: the signed links stay valid
    second.base_url = first.base_url
    second.env["VIDGATE_PORT"] = str(first.port)
    second.start()
    try:
        with httpx.Client(base_url=second.base_url, timeout=30) as client:
            for video_id in ids:
                done = wait_for(client, video_id, key, timeout=300)
                assert done["status"] == "completed", done
                assert httpx.get(done["video_url"]).status_code == 200
    finally:
        second.stop()
    rows = _rows(data)
    assert [r[1] for r in rows] == ["completed"] * 3
    # The job that was running when killed ran again (attempt 2); the others once.
    assert sorted(r[2] for r in rows) == [1, 1, 2]
    # Each video's files come from exactly one attempt: the one that completed.
    for video_id, _, attempts, prefix in rows:
        attempt_dirs = sorted(p.name for p in (data / "media" / "videos" / video_id).iterdir()
                              if p.is_dir())
        assert prefix == f"videos/{video_id}/{attempts}/"
        assert attempt_dirs == [str(attempts)]


def test_api_and_worker_as_separate_processes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api = VidgateProcess(data, args=("--no-worker",)).start()
    worker = None
    try:
        key = api.create_key()
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            video_id = client.post("/v1/videos", headers=auth(key),
                                   data={"model": "sora-2", "prompt": "split", "seconds": "4"}
                                   ).json()["id"]
            time.sleep(1.5)
            body = client.get(f"/v1/videos/{video_id}", headers=auth(key)).json()
            assert body["status"] == "queued"  # no worker in the API process
            worker = VidgateProcess(data, command="worker", env=FAST_LEASE).start()
            done = wait_for(client, video_id, key, timeout=120)
            assert done["status"] == "completed"
            assert httpx.get(done["video_url"]).status_code == 200
    finally:
        if worker is not None:
            worker.stop()
        api.stop()
