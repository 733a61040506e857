"""Signed links: intact and unexpired pass; anything altered or late is refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from vidgate.api.links import LinkSigner
from vidgate.domain import LinkRefused, Variant


def _parts(url: str) -> tuple[str, str, str, str]:
    split = urlsplit(url)
    _, _, video_id, filename = split.path.split("/")
    query = parse_qs(split.query)
    return video_id, filename, query["expires"][0], query["sig"][0]


def test_link_verifies_and_is_absolute() -> None:
    signer = LinkSigner(b"k" * 32, "https://videos.example.org/")
    url = signer.url("video_1", Variant.VIDEO, int(time.time()) + 60)
    assert url.startswith("https://videos.example.org/files/video_1/video.mp4?")
    signer.verify(*_parts(url))


@pytest.mark.parametrize("field", [0, 1, 2, 3])
def test_any_altered_part_is_refused(field: int) -> None:
    signer = LinkSigner(b"k" * 32, "http://h")
    parts = list(_parts(signer.url("video_1", Variant.VIDEO, int(time.time()) + 60)))
    parts[field] = {0: "video_2", 1: "thumbnail.webp", 2: str(int(parts[2]) + 3600),
                    3: "0" * 64}[field]
    with pytest.raises(LinkRefused):
        signer.verify(*parts)


def test_expired_link_is_refused_and_other_secret_too() -> None:
    signer = LinkSigner(b"k" * 32, "http://h")
    with pytest.raises(LinkRefused) as exc:
        signer.verify(*_parts(signer.url("video_1", Variant.VIDEO, int(time.time()) - 1)))
    assert exc.value.code == "link_expired"
    url = LinkSigner(b"other", "http://h").url("video_1", Variant.VIDEO, int(time.time()) + 60)
    with pytest.raises(LinkRefused):
        signer.verify(*_parts(url))


def test_a_signature_that_is_not_ascii_is_refused_not_a_crash() -> None:
    signer = LinkSigner(b"secret", "http://h")
    video_id, filename, expires, _ = _parts(signer.url("video_1", Variant.VIDEO,
                                                       int(time.time()) + 60))
    with pytest.raises(LinkRefused):
        signer.verify(video_id, filename, expires, "\x80")
