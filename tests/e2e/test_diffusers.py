"""The diffusers engine as an operator runs it: tiny random pipelines built offline, saved
with save_pretrained, named in a catalog entry, and driven over the HTTP API."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import auth, png_bytes, toml_value, wait_for
from tests.serverproc import VidgateProcess
from vidgate.media.encode import probe

try:
    import diffusers  # noqa: F401
    import torch  # noqa: F401

    from tests import tinypipelines

    FAMILIES = sorted(tinypipelines.FAMILIES)
except ImportError as exc:  # pragma: no cover - depends on the install
    if os.environ.get("CI"):
        raise RuntimeError(f"the diffusers tests are required in CI: {exc}") from exc
    pytest.skip(f"torch/diffusers not installed (make test installs them): {exc}",
                allow_module_level=True)

FPS = 8
# One family with a step callback, one without (HunyuanVideo 1.5: steps counted at the
# scheduler), for progress and cancellation.
SLOW = ("cogvideox", "hunyuan15")
OPTIONS: dict[str, dict[str, Any]] = {
    "vae-tiling": {"vae_tiling": True},
    "fp8": {"fp8_layerwise": True},
    "first-block-cache": {"cache": {"type": "FirstBlockCacheConfig", "threshold": 0.2}},
    "group-offload": {"offload": "group"},
}


def _poisoned(source: Path, target: Path) -> Path:
    """A copy of a saved pipeline whose transformer weights are all NaN."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(source, target)
    weights = target / "transformer" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    save_file({k: t.float().fill_(float("nan")).to(t.dtype) for k, t in tensors.items()},
              weights)
    return target
SIZES = ("96x64", "64x96")  # delivered sizes: not the native ones, so fitting is exercised


def _entry(name: str, info: dict[str, Any], **extra: Any) -> list[str]:
    width, height, frames = info["works"][0]
    options: dict[str, Any] = {
        "weights": str(info["t2v_dir"]), "t2v": info["t2v"],
        "native": {"landscape": f"{width}x{height}", "portrait": f"{height}x{width}"},
        "frames": frames, "fps": FPS, "steps": 2, "guidance": 1.0, "dtype": "float32",
        "device": "cpu", **extra,
    }  # fmt: skip
    if info["i2v"]:
        options["i2v"] = info["i2v"]
        if info["i2v_dir"] != info["t2v_dir"]:
            options["i2v_weights"] = str(info["i2v_dir"])
    return ["[[models]]", f'name = "{name}"', 'engine = "diffusers"',
            f"sizes = {toml_value(list(SIZES))}", "seconds = [1, 2, 3]",
            f"options = {toml_value(options)}"]


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VidgateProcess,
                                                                             dict[str, Any]]]:
    models = tmp_path_factory.mktemp("models")
    infos = {family: tinypipelines.build(family, models / family) for family in FAMILIES}
    lines: list[str] = []
    for family, info in infos.items():
        lines += _entry(f"tiny-{family}", info)
    lines += _entry("tiny-broken", {**infos[FAMILIES[0]], "t2v_dir": models / "missing"})
    for family in SLOW:
        lines += _entry(f"tiny-slow-{family}", infos[family], steps=900)
    # The memory/speed options that run on a CPU, each on its own entry.
    for name, option in OPTIONS.items():
        lines += _entry(f"tiny-{name}", infos["wan"], **option)
    lines += _entry("tiny-nan", {**infos["wan"], "t2v_dir": _poisoned(infos["wan"]["t2v_dir"],
                                                                      models / "nan")})
    config = tmp_path_factory.mktemp("config") / "vidgate.toml"
    config.write_text("\n".join(lines) + "\n")
    server = VidgateProcess(tmp_path_factory.mktemp("local"), env={
        "VIDGATE_CONFIG": str(config), "HF_HUB_OFFLINE": "1"}).start()
    yield server, infos
    server.stop()


def _make(server: VidgateProcess, key: str, model: str, size: str, seconds: int,
          reference: bytes | None = None) -> dict[str, Any]:
    files: dict[str, Any] = {"model": (None, model), "prompt": (None, "a red boat on the sea"),
                             "size": (None, size), "seconds": (None, str(seconds))}
    if reference is not None:
        files["input_reference"] = ("ref.png", reference, "image/png")
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        response = client.post("/v1/videos", headers=auth(key), files=files)
        assert response.status_code == 200, response.text
        return wait_for(client, response.json()["id"], key, timeout=600)


def _check_mp4(done: dict[str, Any], tmp_path: Path, size: str, seconds: int) -> None:
    assert done["status"] == "completed", done
    mp4 = tmp_path / f"{done['id']}.mp4"
    mp4.write_bytes(httpx.get(done["video_url"], timeout=60).content)
    info = probe(mp4)
    assert f"{info.width}x{info.height}" == size
    assert info.frames == seconds * FPS
    assert info.duration == pytest.approx(seconds, abs=0.01)


@pytest.mark.parametrize("family", FAMILIES)
def test_text_to_video(local_server: tuple[VidgateProcess, dict[str, Any]], family: str,
                       tmp_path: Path) -> None:
    server, _ = local_server
    key = server.create_key(family)
    done = _make(server, key, f"tiny-{family}", "96x64", 1)
    _check_mp4(done, tmp_path, "96x64", 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_to_video_chained_past_one_pass(
    local_server: tuple[VidgateProcess, dict[str, Any]], family: str, tmp_path: Path
) -> None:
    """3 s at 8 fps is 24 frames; a 9-frame model makes them in three chained passes."""
    server, infos = local_server
    if not infos[family]["i2v"]:
        pytest.skip(f"{family} has no image-to-video pipeline here")
    key = server.create_key(family)
    done = _make(server, key, f"tiny-{family}", "64x96", 3, reference=png_bytes(120, 90))
    _check_mp4(done, tmp_path, "64x96", 3)


def test_bad_weights_fail_the_job_and_the_worker_goes_on(
    local_server: tuple[VidgateProcess, dict[str, Any]], tmp_path: Path
) -> None:
    server, _ = local_server
    key = server.create_key("broken")
    failed = _make(server, key, "tiny-broken", "96x64", 1)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "model_unavailable"
    assert "missing" in failed["error"]["message"]
    done = _make(server, key, f"tiny-{FAMILIES[0]}", "96x64", 2)
    _check_mp4(done, tmp_path, "96x64", 2)


@pytest.mark.parametrize("family", SLOW)
def test_progress_follows_the_steps_and_delete_stops_the_run(
    local_server: tuple[VidgateProcess, dict[str, Any]], family: str
) -> None:
    server, _ = local_server
    key = server.create_key("slow")
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        created = client.post("/v1/videos", headers=auth(key), files={
            "model": (None, f"tiny-slow-{family}"), "prompt": (None, "slow"),
            "size": (None, "96x64"), "seconds": (None, "1")}).json()
        seen = []
        deadline = time.monotonic() + 120
        while not seen or seen[-1] < 2:  # 900 steps: a percent is 9 steps
            body = client.get(f"/v1/videos/{created['id']}", headers=auth(key)).json()
            assert body["status"] in ("queued", "in_progress"), body
            seen.append(body["progress"])
            assert time.monotonic() < deadline, seen
            time.sleep(0.2)
        assert seen == sorted(seen)
        client.delete(f"/v1/videos/{created['id']}", headers=auth(key))
    db = sqlite3.connect(server.data_dir / "vidgate.db")
    deadline = time.monotonic() + 30
    while True:
        status, code, progress = db.execute(
            "SELECT status, error_code, progress FROM videos WHERE id = ?",
            (created["id"],)).fetchone()
        if status == "failed":
            break
        assert time.monotonic() < deadline, "the run did not stop at the next step"
        time.sleep(0.2)
    db.close()
    assert code == "cancelled" and progress < 50


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_memory_and_speed_options(local_server: tuple[VidgateProcess, dict[str, Any]],
                                  option: str, tmp_path: Path) -> None:
    server, _ = local_server
    key = server.create_key(option)
    done = _make(server, key, f"tiny-{option}", "96x64", 2)
    _check_mp4(done, tmp_path, "96x64", 2)


def test_nan_output_fails_the_job_clearly(
    local_server: tuple[VidgateProcess, dict[str, Any]],
) -> None:
    server, _ = local_server
    failed = _make(server, server.create_key("nan"), "tiny-nan", "96x64", 1)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "invalid_output", failed["error"]
