"""Create + retrieve throughput of vidgate against a bare ASGI app, in the same run.

Both run as uvicorn processes on 127.0.0.1 (vidgate with --no-worker, so no rendering
competes for the CPU); one client process sends `pairs` create+retrieve pairs over
`concurrency` connections, seed-shaped (multipart create, GET query).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.serverproc import VidgateProcess, free_port


async def _drive(base_url: str, key: str, pairs: int, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                 timeout=60) as client:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def one_lane() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                created = await client.post("/v1/videos", files={
                    "model": (None, "sora_video2"), "prompt": (None, f"bench {n}")})
                created.raise_for_status()
                got = await client.get(f"/v1/videos/{created.json()['id']}")
                got.raise_for_status()

        for n in range(20):  # warm-up: connections, first queries (not timed)
            queue.put_nowait(n)
        await one_lane()
        for n in range(pairs):
            queue.put_nowait(n)
        start = time.perf_counter()
        await asyncio.gather(*(one_lane() for _ in range(concurrency)))
        return time.perf_counter() - start


def _bare_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port),
         "--log-level", "warning"], cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, base


def run(pairs: int = 400, concurrency: int = 8) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vidgate = VidgateProcess(Path(tmp), args=("--no-worker",),
                                 env={"VIDGATE_WORKER_CONCURRENCY": "1"}).start()
        key = vidgate.create_key("bench")
        bare, bare_url = _bare_server()
        try:
            t_vidgate = asyncio.run(_drive(vidgate.base_url, key, pairs, concurrency))
            t_bare = asyncio.run(_drive(bare_url, key, pairs, concurrency))
        finally:
            vidgate.stop()
            bare.terminate()
            bare.wait()
    rate_v = pairs / t_vidgate
    rate_b = pairs / t_bare
    rows.append(("create+retrieve pairs/s, vidgate (SQLite)", f"{rate_v:.0f}"))
    rows.append(("create+retrieve pairs/s, bare ASGI app", f"{rate_b:.0f}"))
    rows.append(("ratio vidgate / bare", f"{rate_v / rate_b:.2f}"))
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    for name, value in run():
        print(f"{name:48} {value}")
