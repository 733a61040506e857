"""Encoding and posters on real files: exact frame counts, and tiles from the right moments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidgate.media import posters
from vidgate.media.encode import Mp4Writer, probe


def _clip(path: Path, seconds: int, fps: int = 4, size: tuple[int, int] = (64, 36)) -> None:
    """Each second of the clip is one grey level: 40, 80, 120 ..."""
    width, height = size
    with Mp4Writer(path, width, height, fps=fps) as writer:
        for n in range(seconds * fps):
            writer.write(np.full((height, width, 3), 40 * (n // fps + 1), np.uint8))


def test_writer_makes_exactly_the_frames_and_duration(tmp_path: Path) -> None:
    _clip(tmp_path / "v.mp4", 3, fps=24)
    info = probe(tmp_path / "v.mp4")
    assert (info.frames, info.duration, info.fps) == (72, 3.0, 24.0)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="frame is"), Mp4Writer(tmp_path / "v.mp4", 64, 36,
                                                                fps=4) as writer:
        writer.write(np.zeros((10, 10, 3), np.uint8))
    assert not (tmp_path / "v.mp4").exists()


def test_posters_sample_the_video(tmp_path: Path) -> None:
    _clip(tmp_path / "v.mp4", 5)
    posters.make_posters(tmp_path / "v.mp4", tmp_path / "t.webp", tmp_path / "s.jpg")
    with Image.open(tmp_path / "t.webp") as thumbnail:
        assert thumbnail.format == "WEBP" and thumbnail.size == (64, 36)
        assert abs(np.asarray(thumbnail).mean() - 40) < 4  # the first frame
    with Image.open(tmp_path / "s.jpg") as sheet:
        assert sheet.format == "JPEG" and sheet.size == (5 * 192, 108)
        tiles = np.asarray(sheet.convert("L"), dtype=np.float32)
    # One tile a second, in order: the grey level of each second.
    means = [tiles[:, i * 192 : (i + 1) * 192].mean() for i in range(5)]
    assert means == pytest.approx([40, 80, 120, 160, 200], abs=4)
