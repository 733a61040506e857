"""A real vidgate server (or worker) in a child process, for the e2e tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class VidgateProcess:
    """`vidgate serve` (or `vidgate worker`) on its own port and data directory."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), command: str = "serve") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "VIDGATE_DATA_DIR": str(data_dir),
                    "VIDGATE_PORT": str(self.port), "VIDGATE_POLL_INTERVAL_SECONDS": "0.2",
                    **(env or {})}
        self.args = args
        self.command = command
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"{command}-{self.port}.log"

    def start(self, *, wait: bool = True) -> VidgateProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The child keeps its own copy of the descriptor; ours can close at once.
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vidgate", self.command, *self.args],
                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        if wait and self.command == "serve":
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"vidgate exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"vidgate did not become ready:\n{self.log()}")

    def create_key(self, name: str = "test") -> str:
        """A new API key through the CLI, as an operator makes one."""
        out = subprocess.run(
            [sys.executable, "-m", "vidgate", "keys", "create", "--name", name],
            env=self.env, check=True, capture_output=True, text=True).stdout
        return out.strip().splitlines()[-1]

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a machine dies."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
