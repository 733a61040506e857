"""Tiny, randomly initialised diffusers video pipelines, built offline for tests.

`build(family, directory)` saves a pipeline with `save_pretrained` and says how to drive it.
Nothing is downloaded: tokenizers are built in code from a small vocabulary.
Run `python tests/tinypipelines.py [family ...]` to build, reload and run each one on CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# Words that get their own piece; everything else falls back to single characters.
_WORDS = (
    "a an the of and in on with to at is are by for from under over near into "
    "cat dog bird fish horse monkey robot car boat train city street forest beach ocean sea "
    "river mountain sky sun moon star cloud rain snow fire water tree flower house road "
    "red green blue yellow white black dark bright slow fast small big tiny old new "
    "dance dancing run running walk walking fly flying swim swimming jump jumping "
    "video scene camera shot close up wide view motion night day light shadow "
    "blurry worst quality low static ugly negative"
).split()
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-:;()"

# Vocabulary size given to the tiny text encoders; larger than any tokenizer built here.
_TEXT_VOCAB = 512


def _unigram_tokenizer() -> Any:
    """A T5/UMT5-style Unigram tokenizer (pad=0, eos=1, unk=2) built from `_WORDS`."""
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram
    from transformers import PreTrainedTokenizerFast

    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    seen = {piece for piece, _ in vocab}

    def add(piece: str, score: float) -> None:
        if piece not in seen:
            seen.add(piece)
            vocab.append((piece, score))

    add("\u2581", -4.0)
    for word in _WORDS:
        add("\u2581" + word, -5.0)
    for ch in _CHARS + _CHARS.upper():
        add("\u2581" + ch, -9.0)
        add(ch, -10.0)
    assert len(vocab) < _TEXT_VOCAB

    tok = Tokenizer(Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=512,
        padding_side="right",
    )


def _t5_kwargs() -> dict[str, Any]:
    """Shared config of the tiny T5/UMT5 encoders (d_model 32)."""
    return {
        "vocab_size": _TEXT_VOCAB,
        "d_model": 32,
        "d_kv": 8,
        "d_ff": 64,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "relative_attention_max_distance": 32,
        "dropout_rate": 0.0,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }


def _umt5_encoder() -> Any:
    """A tiny random UMT5 encoder, as used by Wan."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    return UMT5EncoderModel(UMT5Config(**_t5_kwargs())).eval()


def _t5_encoder() -> Any:
    """A tiny random T5 encoder, as used by LTX and CogVideoX."""
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(**_t5_kwargs())).eval()


def _wan_vae(wan22: bool = False) -> Any:
    """Tiny Wan VAE: z_dim 16 (Wan 2.1, 8x spatial) or z_dim 48 (Wan 2.2 TI2V, 16x spatial)."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    if wan22:
        return AutoencoderKLWan(
            base_dim=3,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
            temperal_downsample=[False, True, True],
        ).eval()
    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).eval()


def _wan_transformer(in_channels: int, out_channels: int, **extra: Any) -> Any:
    """Tiny WanTransformer3DModel with text_dim matching the tiny encoder."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        out_channels=out_channels,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        **extra,
    ).eval()


def _clip_image_encoder() -> tuple[Any, Any]:
    """Tiny CLIP vision encoder (the type Wan I2V declares) and its image processor."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    try:  # transformers 5 without torchvision: the PIL backend, same as the fallback
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:
        from transformers import CLIPImageProcessor as Processor

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=4,
        projection_dim=4,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        intermediate_size=16,
        patch_size=1,
    )
    return CLIPVisionModel(config).eval(), Processor(crop_size=32, size=32)


def _info(
    directory: Path,
    t2v: str,
    i2v: str | None,
    frames_rule: tuple[int, int],
    size_multiple: int,
    works: list[tuple[int, int, int]],
    i2v_dir: Path | None = None,
) -> dict[str, Any]:
    """The description `build` returns."""
    return {
        "t2v": t2v,
        "i2v": i2v,
        "frames_rule": frames_rule,
        "size_multiple": size_multiple,
        "works": works,
        "t2v_dir": directory,
        "i2v_dir": (i2v_dir or directory) if i2v else None,
    }


def build_wan(directory: Path) -> dict[str, Any]:
    """Wan 2.1: T2V at `directory`, I2V (36-channel transformer + CLIP) at `directory/i2v`."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanPipeline

    tokenizer, text_encoder, vae = _unigram_tokenizer(), _umt5_encoder(), _wan_vae()
    WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        transformer=_wan_transformer(16, 16),
    ).save_pretrained(directory)
    image_encoder, image_processor = _clip_image_encoder()
    i2v_dir = directory / "i2v"
    WanImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=_wan_transformer(36, 16, image_dim=4),
    ).save_pretrained(i2v_dir)
    return _info(
        directory,
        "WanPipeline",
        "WanImageToVideoPipeline",
        (4, 1),
        16,
        [(32, 32, 9)],
        i2v_dir=i2v_dir,
    )


FAMILIES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "wan": build_wan,
}


def build(family: str, directory: Path) -> dict[str, Any]:
    """Build the tiny `family` pipeline into `directory` and describe how to use it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return FAMILIES[family](directory)


def _run(cls_name: str, path: Path, size: tuple[int, int, int], image: Any, stop_at: int | None) -> Any:
    """Load `cls_name` fresh from `path`, run 2-3 steps and print what came out."""
    import diffusers
    import numpy as np

    cls = getattr(diffusers, cls_name)
    pipe = cls.from_pretrained(path)
    pipe.set_progress_bar_config(disable=True)
    steps: list[int] = []

    def on_step(p: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        steps.append(i)
        if stop_at is not None and i == stop_at:
            p._interrupt = True
        return kwargs

    width, height, frames = size
    kwargs: dict[str, Any] = {
        "prompt": "a cat dancing on the beach",
        "negative_prompt": "blurry",
        "width": width,
        "height": height,
        "num_frames": frames,
        "num_inference_steps": 2 if stop_at is None else 3,
        "output_type": "np",
        "callback_on_step_end": on_step,
        "generator": torch.Generator().manual_seed(0),
    }
    if image is not None:
        kwargs["image"] = image
    start = time.perf_counter()
    out = pipe(**kwargs).frames
    took = time.perf_counter() - start
    arr = np.asarray(out)
    print(
        f"  {cls_name:34s} {width}x{height}x{frames} stop_at={stop_at} -> shape={arr.shape} "
        f"dtype={arr.dtype} range=[{arr.min():.3f}, {arr.max():.3f}] steps={steps} {took:.2f}s"
    )
    return steps


def _verify(family: str) -> None:
    """Build `family` into a temp dir, reload it fresh and run t2v, i2v and an interrupt."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        info = build(family, Path(tmp))
        print(f"{family}: built in {time.perf_counter() - start:.2f}s: {info}")
        size = info["works"][0]
        _run(info["t2v"], info["t2v_dir"], size, None, None)
        steps = _run(info["t2v"], info["t2v_dir"], size, None, 0)
        print(f"  t2v interrupt honoured: {steps == [0]}")
        if info["i2v"]:
            image = Image.new("RGB", (size[0], size[1]), (200, 80, 40))
            _run(info["i2v"], info["i2v_dir"], size, image, None)
            steps = _run(info["i2v"], info["i2v_dir"], size, image, 0)
            print(f"  i2v interrupt honoured: {steps == [0]}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name in sys.argv[1:] or list(FAMILIES):
        _verify(name)
