"""Relay: what one worker pays per upstream job it follows, at N = 100, 1,000, 5,000.

An API process and a worker process (SQLite) relay to a local upstream (the test suite's
fake server in `hold` mode: jobs stay in progress, asking to be polled every 5 s, until
released). With all N jobs in flight, the worker's resident memory and CPU are read from
/proc and compared with the same worker idle (the baseline, same run). Then the
upstream releases every job at once and we time until all N are completed on our side
(each copied into our storage, with thumbnail and spritesheet).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.serverproc import VidgateProcess, free_port

_TICKS = os.sysconf("SC_CLK_TCK")
_CONFIG = """
[[models]]
name = "relayed"
engine = "relay"
sizes = ["320x180"]
seconds = [2]

[[channels]]
name = "hold"
base_url = "{upstream}/hold/v1"
dialect = "openai"
models = {{ "*" = "m" }}
max_in_flight = {n}
poll_seconds = 5
"""


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cpu_share(pid: int, seconds: float) -> float:
    """CPU seconds per wall second used by `pid` over the next `seconds`."""
    before = _cpu_seconds(pid)
    time.sleep(seconds)
    return (_cpu_seconds(pid) - before) / seconds


async def _create(base_url: str, key: str, n: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=120,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        pending = iter(range(n))

        async def lane() -> None:
            for i in pending:
                response = await client.post("/v1/videos", json={"model": "relayed",
                                                                  "prompt": f"job {i}"})
                response.raise_for_status()

        await asyncio.gather(*(lane() for _ in range(16)))


def _count(db: Path, status: str) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM videos WHERE status = ?",
                                (status,)).fetchone()
    return int(count)


def _one(n: int, tmp: Path, upstream: str) -> list[tuple[str, str]]:
    config = tmp / f"relay-{n}.toml"
    config.write_text(_CONFIG.format(upstream=upstream, n=n))
    env = {"VIDGATE_CONFIG": str(config)}
    data = tmp / f"data-{n}"
    api = VidgateProcess(data, args=("--no-worker",), env=env).start()
    worker = VidgateProcess(data, command="worker", env=env).start()
    assert worker.proc is not None
    pid = worker.proc.pid
    try:
        key = api.create_key("bench")
        time.sleep(3)
        idle_rss, idle_cpu = _rss_mib(pid), _cpu_share(pid, 5)
        asyncio.run(_create(api.base_url, key, n))
        db = data / "vidgate.db"
        deadline = time.monotonic() + 1800
        while _count(db, "in_progress") < n:
            assert time.monotonic() < deadline, "jobs did not all start"
            time.sleep(0.5)
        time.sleep(6)  # every job submitted and polled at least once
        busy_rss, busy_cpu = _rss_mib(pid), _cpu_share(pid, 10)
        released = httpx.post(f"{upstream}/release").json()["released_at"]
        while _count(db, "completed") < n:
            assert time.monotonic() < deadline, "jobs did not all complete"
            time.sleep(0.2)
        all_done = time.time() - released
        with sqlite3.connect(db) as conn:
            times = sorted(t for (t,) in conn.execute("SELECT completed_at FROM videos"))
        median = times[len(times) // 2] - released
    finally:
        worker.stop()
        api.stop()
    return [
        (f"N={n}: worker RSS idle / all in flight, MiB", f"{idle_rss:.0f} / {busy_rss:.0f}"),
        (f"N={n}: RSS per in-flight job, KiB", f"{(busy_rss - idle_rss) * 1024 / n:.1f}"),
        (f"N={n}: worker CPU idle / in flight, % of a core",
         f"{idle_cpu * 100:.1f} / {busy_cpu * 100:.1f}"),
        (f"N={n}: CPU per in-flight job, ms per s", f"{(busy_cpu - idle_cpu) * 1000 / n:.3f}"),
        (f"N={n}: upstream done → ours done, median / all, s", f"{median:.1f} / {all_done:.1f}"),
    ]


def run(sizes: tuple[int, ...] = (100, 1000, 5000)) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            upstream = subprocess.Popen(
                [sys.executable, "-m", "tests.fakeupstream", str(port)],
                cwd=Path(__file__).resolve().parents[1])
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(100):
                    try:
                        httpx.get(f"{base}/stats")
                        break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                rows += _one(n, Path(tmp), base)
            finally:
                upstream.kill()
                upstream.wait()
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    counts = tuple(int(a) for a in sys.argv[1:]) or (100, 1000, 5000)
    for n in counts:  # one N at a time, so a long run's early figures are not lost
        for name, value in run((n,)):
            print(f"{name:56} {value}", flush=True)
