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
)
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
    for word in _WORDS.split():
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


# Qwen2-style ChatML template; HunyuanVideo 1.5 calls tokenizer.apply_chat_template.
_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bytelevel_tokenizer() -> Any:
    """A Qwen2-style byte-level BPE tokenizer (256 byte symbols, no merges, ChatML specials)."""
    from tokenizers import Tokenizer, decoders, pre_tokenizers
    from tokenizers.models import BPE
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    tok = Tokenizer(BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=specials[1:],
        model_max_length=4096,
        padding_side="right",
        chat_template=_CHATML,
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
        [(32, 32, 9), (48, 32, 13)],
        i2v_dir=i2v_dir,
    )


def build_ltx(directory: Path) -> dict[str, Any]:
    """LTX-Video 0.9: one directory serves both LTXPipeline and LTXImageToVideoPipeline."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=32,
    ).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=_t5_encoder(),
        tokenizer=_unigram_tokenizer(),
        transformer=transformer,
    ).save_pretrained(directory)
    works = [(32, 32, 9), (64, 32, 17)]
    return _info(directory, "LTXPipeline", "LTXImageToVideoPipeline", (8, 1), 32, works)


def _cogvideox_transformer(i2v: bool) -> Any:
    """Tiny CogVideoX transformer; I2V takes 8 channels (noise + image latents) and uses RoPE.

    max_text_seq_length stays at the pipelines' default max_sequence_length (226): the text
    tokens are part of the positional-embedding sequence, so they must match.
    No learned positional embeddings (CogVideoX-5b-I2V has them), so any size works.
    """
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    extra: dict[str, Any] = {"use_rotary_positional_embeddings": True} if i2v else {}
    return CogVideoXTransformer3DModel(
        num_attention_heads=2 if i2v else 4,
        attention_head_dim=16 if i2v else 8,
        in_channels=8 if i2v else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=2,
        sample_height=2,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=226,
        **extra,
    ).eval()


def build_cogvideox(directory: Path) -> dict[str, Any]:
    """CogVideoX: T2V at `directory`, I2V (8-channel transformer) at `directory/i2v`."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        DDIMScheduler,
    )

    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    ).eval()
    tokenizer, text_encoder = _unigram_tokenizer(), _t5_encoder()
    CogVideoXPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=_cogvideox_transformer(i2v=False),
        scheduler=DDIMScheduler(),
    ).save_pretrained(directory)
    i2v_dir = directory / "i2v"
    CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        transformer=_cogvideox_transformer(i2v=True),
        scheduler=DDIMScheduler(),
    ).save_pretrained(i2v_dir)
    # Frames: latents are (n - 1) // 4 + 1, but the VAE decodes an even latent count to 4 * n
    # frames, so only 8k + 1 round-trips exactly (13 -> 16, 5 -> 8).
    return _info(
        directory,
        "CogVideoXPipeline",
        "CogVideoXImageToVideoPipeline",
        (8, 1),
        16,
        [(32, 32, 9), (48, 32, 17)],
        i2v_dir=i2v_dir,
    )


def build_wan22_ti2v(directory: Path) -> dict[str, Any]:
    """Wan 2.2 TI2V-5B style (z_dim 48 VAE, expand_timesteps): one dir for T2V and I2V."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline

    # Saved as WanImageToVideoPipeline with no image encoder, like the real TI2V-5B repo;
    # WanPipeline loads the same directory (image_encoder/image_processor stay None).
    WanImageToVideoPipeline(
        tokenizer=_unigram_tokenizer(),
        text_encoder=_umt5_encoder(),
        vae=_wan_vae(wan22=True),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
        ),
        image_processor=None,
        image_encoder=None,
        transformer=_wan_transformer(48, 48),
        expand_timesteps=True,
    ).save_pretrained(directory)
    works = [(32, 32, 9), (64, 32, 13)]
    return _info(directory, "WanPipeline", "WanImageToVideoPipeline", (4, 1), 32, works)


def build_hunyuan15(directory: Path) -> dict[str, Any]:
    """HunyuanVideo 1.5: one dir (with SigLIP) serves both the T2V and the I2V pipeline.

    Neither pipeline takes `callback_on_step_end`; the I2V one takes no width/height either
    (it buckets the image's aspect ratio around transformer.config.target_size, here 32).
    """
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15ImageToVideoPipeline,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        SiglipVisionConfig,
        SiglipVisionModel,
    )

    try:  # transformers 5 without torchvision: the PIL backend, same as the fallback
        from transformers import SiglipImageProcessorPil as SiglipProcessor
    except ImportError:
        from transformers import SiglipImageProcessor as SiglipProcessor

    torch.manual_seed(0)
    transformer = HunyuanVideo15Transformer3DModel(
        in_channels=9,  # latents + image-condition latents + mask
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=1,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        patch_size=1,
        patch_size_t=1,
        text_embed_dim=16,
        text_embed_2_dim=32,
        image_embed_dim=12,
        rope_axes_dim=(2, 2, 4),
        target_size=32,
        task_type="i2v",
    ).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo15(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8, 8, 8, 8),
        layers_per_block=1,
        spatial_compression_ratio=16,
        temporal_compression_ratio=4,
        downsample_match_channel=False,
        upsample_match_channel=False,
    ).eval()
    tokenizer = _bytelevel_tokenizer()
    torch.manual_seed(0)
    text_encoder = Qwen2_5_VLTextModel(
        Qwen2_5_VLTextConfig(
            vocab_size=len(tokenizer) + 16,
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            rope_theta=1000000.0,
            bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
            eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
            pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        )
    ).eval()
    torch.manual_seed(0)
    image_encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=12,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=4,
        )
    ).eval()
    HunyuanVideo15ImageToVideoPipeline(
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=_t5_encoder(),
        tokenizer_2=ByT5Tokenizer(),
        guider=ClassifierFreeGuidance(guidance_scale=6.0),
        image_encoder=image_encoder,
        feature_extractor=SiglipProcessor(size={"height": 16, "width": 16}),
    ).save_pretrained(directory)
    return _info(
        directory,
        "HunyuanVideo15Pipeline",
        "HunyuanVideo15ImageToVideoPipeline",
        (4, 1),
        16,
        [(32, 32, 9), (48, 32, 13)],
    )


FAMILIES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "wan": build_wan,
    "ltx": build_ltx,
    "cogvideox": build_cogvideox,
    "wan22-ti2v": build_wan22_ti2v,
    "hunyuan15": build_hunyuan15,
}


def build(family: str, directory: Path) -> dict[str, Any]:
    """Build the tiny `family` pipeline into `directory` and describe how to use it.

    Keys: t2v/i2v (diffusers class names, i2v may be None), frames_rule (m, r): frames = m*k + r,
    size_multiple, works [(width, height, frames)] verified, t2v_dir/i2v_dir (Paths to pass to
    from_pretrained; i2v_dir is `directory/i2v` when the I2V transformer differs).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return FAMILIES[family](directory)


def _run(
    cls_name: str, path: Path, size: tuple[int, int, int], image: Any, stop_at: int | None
) -> list[int]:
    """Load `cls_name` fresh from `path`, run 2 steps (3 if interrupting), print the output.

    Steps are recorded by `callback_on_step_end`, or, for pipelines without it (HunyuanVideo
    1.5), by wrapping `scheduler.step`; either sets `pipe._interrupt` at step `stop_at`.
    """
    import inspect

    import diffusers
    import numpy as np

    pipe = getattr(diffusers, cls_name).from_pretrained(path)
    pipe.set_progress_bar_config(disable=True)
    params = inspect.signature(pipe.__call__).parameters
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
        "num_frames": frames,
        "num_inference_steps": 2 if stop_at is None else 3,
        "output_type": "np",
        "generator": torch.Generator().manual_seed(0),
    }
    if "width" in params:
        kwargs.update(width=width, height=height)
    if image is not None:
        kwargs["image"] = image
    hook = "callback_on_step_end"
    if hook in params:
        kwargs[hook] = on_step
    else:
        hook = "scheduler.step"
        step = pipe.scheduler.step

        def counted(*args: Any, **kw: Any) -> Any:
            out = step(*args, **kw)
            on_step(pipe, len(steps), None, {})
            return out

        pipe.scheduler.step = counted
    start = time.perf_counter()
    out = pipe(**kwargs).frames
    took = time.perf_counter() - start
    arr = np.asarray(out)
    print(
        f"  {cls_name:34s} {width}x{height}x{frames} stop_at={stop_at} -> shape={arr.shape} "
        f"dtype={arr.dtype} range=[{arr.min():.3f}, {arr.max():.3f}] steps={steps} via {hook} "
        f"{took:.2f}s"
    )
    return steps


def _verify(family: str) -> None:
    """Build `family` into a temp dir, reload it fresh and run t2v, i2v and an interrupt."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        info = build(family, Path(tmp))
        print(f"{family}: built in {time.perf_counter() - start:.2f}s: {info}")
        kinds = [("t2v", None)]
        if info["i2v"]:
            kinds.append(("i2v", "image"))
        for kind, needs_image in kinds:
            for size in info["works"]:
                image = Image.new("RGB", size[:2], (200, 80, 40)) if needs_image else None
                _run(info[kind], info[f"{kind}_dir"], size, image, None)
            size = info["works"][0]
            image = Image.new("RGB", size[:2], (200, 80, 40)) if needs_image else None
            steps = _run(info[kind], info[f"{kind}_dir"], size, image, 0)
            print(f"  {kind} interrupt honoured: {steps == [0]}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name in sys.argv[1:] or list(FAMILIES):
        _verify(name)
