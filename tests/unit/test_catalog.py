"""The catalog: every seed model name means what it says; nothing is quietly replaced."""

from __future__ import annotations

import pytest

from vidgate.catalog import load_catalog
from vidgate.domain import InvalidRequest

SEED = {
    "sora_video2": ("720x1280", 10),
    "sora_video2-portrait": ("720x1280", 10),
    "sora_video2-landscape": ("1280x720", 10),
    "sora_video2-portrait-15s": ("720x1280", 15),
    "sora_video2-landscape-15s": ("1280x720", 15),
    "sora_video2-portrait-hd": ("1024x1792", 10),
    "sora_video2-landscape-hd": ("1792x1024", 10),
    "sora_video2-portrait-hd-15s": ("1024x1792", 15),
    "sora_video2-landscape-hd-15s": ("1792x1024", 15),
    "sora_video2-portrait-hd-25s": ("1024x1792", 25),
    "sora_video2-landscape-hd-25s": ("1792x1024", 25),
}


def _meaning(name: str) -> tuple[str, int]:
    """Decode a seed name by its own grammar, independently of the catalog file."""
    options = name.split("-")[1:]
    landscape = "landscape" in options
    hd = "hd" in options
    seconds = 25 if "25s" in options else 15 if "15s" in options else 10
    w, h = (1024, 1792) if hd else (720, 1280)
    if landscape:
        w, h = h, w
    return f"{w}x{h}", seconds


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_names_resolve_to_their_meaning(name: str) -> None:
    spec = load_catalog().resolve(name, "a cat", None, None)
    assert (spec.size, spec.seconds) == SEED[name] == _meaning(name)
    assert spec.engine == "preview"


def test_all_eleven_seed_names_are_listed() -> None:
    names = {e.name for e in load_catalog().entries}
    assert set(SEED) <= names and len(SEED) == 11


def test_seed_model_refuses_other_duration_and_size() -> None:
    catalog = load_catalog()
    with pytest.raises(InvalidRequest) as exc:
        catalog.resolve("sora_video2-landscape", "x", None, 15)
    assert exc.value.param == "seconds"
    with pytest.raises(InvalidRequest) as exc:
        catalog.resolve("sora_video2-landscape", "x", "720x1280", None)
    assert exc.value.param == "size"
    assert catalog.resolve("sora_video2-landscape", "x", "1280x720", 10).size == "1280x720"


def test_openai_models_take_size_and_seconds() -> None:
    catalog = load_catalog()
    assert catalog.resolve("sora-2", "x", None, None).size == "720x1280"
    assert catalog.resolve("sora-2", "x", None, None).seconds == 4
    spec = catalog.resolve("sora-2-pro", "x", "1792x1024", 12)
    assert (spec.width, spec.height, spec.seconds) == (1792, 1024, 12)
    assert catalog.resolve("sora-2-2025-10-06", "x", "1280x720", 8).size == "1280x720"
    with pytest.raises(InvalidRequest) as exc:
        catalog.resolve("sora-2", "x", "1792x1024", None)  # a pro size
    assert exc.value.param == "size"
    with pytest.raises(InvalidRequest) as exc:
        catalog.resolve("sora-2", "x", "big", None)
    assert exc.value.param == "size"


def test_unknown_model_is_a_400_on_model() -> None:
    with pytest.raises(InvalidRequest) as exc:
        load_catalog().resolve("sora_video3", "x", None, None)
    assert exc.value.param == "model" and exc.value.code == "model_not_found"
    assert exc.value.status_code == 400


def test_operator_entries_override_add_and_remove() -> None:
    catalog = load_catalog([
        {"name": "sora_video2", "engine": "relay", "sizes": ["720x1280"], "seconds": [10]},
        {"name": "house-model", "sizes": ["640x360", "360x640"], "seconds": [5, 10],
         "options": {"fps": 12}},
        {"name": "sora-2-pro", "enabled": False},
    ])
    assert catalog.get("sora_video2").engine == "relay"
    house = catalog.get("house-model")
    assert house.options == {"fps": 12} and house.size_names == ["640x360", "360x640"]
    assert "sora-2-pro" not in {e.name for e in catalog.entries}


def test_bad_operator_entry_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="odd"):
        load_catalog([{"name": "x", "sizes": ["641x360"], "seconds": [5]}])
    with pytest.raises(ValueError, match="invalid"):
        load_catalog([{"name": "x", "sizes": ["640x360"]}])


def test_openai_names_answer_in_openai_dialect() -> None:
    catalog = load_catalog()
    assert {catalog.dialect(n) for n in SEED} == {"seed"}
    for name in ("sora-2", "sora-2-2025-10-06", "sora-2-pro", "sora-2-pro-2025-10-06"):
        assert catalog.dialect(name) == "openai"
    assert catalog.dialect("withdrawn-model") == "seed"
    with pytest.raises(ValueError, match="dialect"):
        load_catalog([{"name": "x", "sizes": ["64x64"], "seconds": [1], "dialect": "sora"}])


def test_engines_check_their_catalog_entries() -> None:
    from vidgate.engines import check_catalog

    check_catalog(load_catalog().entries)  # the built-in catalog is fine
    base = {"name": "local", "sizes": ["832x480"], "seconds": [5, 10], "engine": "diffusers"}
    options = {"weights": "/models/wan", "t2v": "WanPipeline", "frames": 81, "fps": 16,
               "native": {"landscape": "832x480", "portrait": "480x832"}}
    with pytest.raises(ValueError, match="image-to-video"):  # 10 s is two passes
        check_catalog(load_catalog([{**base, "options": options}]).entries)
    check_catalog(load_catalog([{**base, "options": {**options, "i2v": "WanImageToVideoPipeline"}}]
                               ).entries)
    with pytest.raises(ValueError, match="unknown options"):
        check_catalog(load_catalog([{**base, "options": {**options, "stpes": 4}}]).entries)
    with pytest.raises(ValueError, match="unknown engine"):
        check_catalog(load_catalog([{**base, "engine": "sora"}]).entries)
