"""Regenerate the committed X-Codec2 / NeuCodec golden set (`xcodec2_micro*`, `neucodec_micro*`, `w2v_bert_micro/`).

    python tests/golden/make_family_golden.py --xcodec2 /tmp/xc/xcodec2-0.1.5 --neucodec /tmp/neucodec \
        --xcodec2-repo /tmp/X-Codec-2.0 --out tests/golden
    python tests/golden/make_family_golden.py ... --full --out /somewhere/outside/the/repository

`--xcodec2` is the folder holding the `xcodec2` pip package (0.1.5, the HKUSTAudio/xcodec2 inference code),
`--neucodec` a checkout of github.com/neuphonic/neucodec, `--xcodec2-repo` a checkout of
github.com/zhenye234/X-Codec-2.0 (its discriminators fill the Lightning checkpoint). Runs in an interpreter with
torch, transformers (>= 5.25, for its `Xcodec2Model` port), vector-quantize-pytorch 1.17.8, torchtune, einops and
safetensors; the tests never need any of them. It imports the official modules and copies none of their code.

The official `XCodec2Model.__init__` / `NeuCodec.__init__` download facebook/w2v-bert-2.0, so the objects are made
without running them (the base class's `__init__`, then the official submodules at the sizes below, a
`Wav2Vec2BertModel` on a micro `Wav2Vec2BertConfig` and `SeamlessM4TFeatureExtractor()`); the codes and the
audio then come from the official, unchanged `encode_code` / `decode_code`, each clip alone. Forward hooks record
every stage during those calls, and an independent chain of the official submodules recomputes them: the script
asserts that both agree. torchaudio (only file loading and resampling in neucodec/model.py, and an unused import
in the X-Codec2 sources) gets an inert stand-in when missing. Seeded and single-threaded: a rerun writes the same
numbers. `tests/golden/FAMILY.md` says what each file holds and lists the checks' numbers. Over 300 lines
because the one script also maps the weights into transformers' port and runs the checks that vouch for the files.

The semantic model is shared (the same frozen w2v-bert in both releases); the codec parts of the two models use
different seeds. `xcodec2_micro_hf/` holds transformers' port with the official weights mapped into it; that port
has one width for the acoustic encoder's output and the decoder (and quantization_dim = that width + the semantic
width), so at the micro sizes (encoder 16, decoder 64) the official weights are embedded with zero padding:
the encoder's output channels 16..63, the extra fc_encoder rows and columns and the FSQ projections' extra
channels are zero, which leaves every code and sample of the official model unchanged (checked).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import io
import json
import os
import sys
import types

import numpy as np

SEED_SEMANTIC, SEEDS = 20250229, {"xcodec2": 20250301, "neucodec": 20250302}
SAMPLE_RATE = 16000
CLIP_SAMPLES = (24000, 13297, 2000)   # > 64 semantic frames; not a multiple of 320; short
TIE_EPS = 1e-5
# weight-norm gain / |v| in the codec parts: 0.6 to 1.6 collapses the codes, 0.8 to 2.5 saturates the FSQ
GAINS = (0.75, 2.2)

SEMANTIC = {
    "micro": dict(hidden_size=16, num_hidden_layers=17, num_attention_heads=2, intermediate_size=32),
    "full": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096),
}
SEMANTIC_COMMON = dict(feature_projection_input_dim=160, conv_depthwise_kernel_size=31,
                       position_embeddings_type="relative_key", left_max_position_embeddings=64,
                       right_max_position_embeddings=8, hidden_act="swish", hidden_dropout=0.0,
                       activation_dropout=0.0, attention_dropout=0.0, feat_proj_dropout=0.0, final_dropout=0.0,
                       layerdrop=0.0, conformer_conv_dropout=0.0, output_hidden_states=True)
CODEC = {  # official constructor arguments; fc_* are (in, out) of the nn.Linear layers
    "micro": dict(encoder=dict(ngf=2, up_ratios=[2, 2, 4, 4, 5], dilations=[1, 3, 9], hidden_dim=16),
                  adapter=16, fc_prior=[32, 32], fc_post_a=[32, 64], fc_post_s=[32, 16], semantic_decoder=16,
                  decoder=dict(hidden_dim=64, depth=2, heads=4, pos_meb_dim=16, vq_dim=32)),
    "full": dict(encoder=dict(ngf=48, up_ratios=[2, 2, 4, 4, 5], dilations=[1, 3, 9], hidden_dim=1024),
                 adapter=1024, fc_prior=[2048, 2048], fc_post_a=[2048, 1024], fc_post_s=[2048, 1024],
                 semantic_decoder=1024, decoder=dict(hidden_dim=1024, depth=12, heads=16, pos_meb_dim=64, vq_dim=2048)),
}
HOP = {"xcodec2": 320, "neucodec": 480}          # decoder hop (16 kHz and 24 kHz out); the encoder's is 320
OUT_RATE = {"xcodec2": 16000, "neucodec": 24000}
DISCRIMINATORS = dict(mpd=dict(periods=[2, 3], max_downsample_channels=4, channels=2, channel_increasing_factor=2),
                      mstft=dict(stft_params=dict(fft_sizes=[78, 126], hop_sizes=[39, 63], win_lengths=[78, 126],
                                                  window="hann_window"),
                                 in_channels=1, out_channels=1, kernel_sizes=[5, 3], channels=2,
                                 max_downsample_channels=4, downsample_scales=[2, 2, 2], use_weight_norm=True))
STAGES = ("padded", "features", "semantic", "adapted", "acoustic", "prior", "fsq_in", "post", "backbone")


# ----------------------------------------------------------------------------------------- stand-ins

def install_standins() -> list[str]:
    """Stand-ins in `sys.modules` where a package is missing or does not import; returns their names.

    - `torchaudio`: inert (the code paths run here use none of it: loading files and resampling are for path
      inputs only, and the X-Codec2 sources import it unused).
    - `torchtune.modules`: when torchtune's package `__init__` fails (torchtune 0.6.1 imports
      `torchao.dtypes.nf4tensor`, which newer torchao moved), a bare package whose `RotaryPositionalEmbeddings`
      is torchtune's own class, loaded from its installed `modules/position_embeddings.py` (torch-only)."""
    installed = []
    try:
        import torchtune.modules  # noqa: F401
    except ImportError:
        import importlib.util

        folder = importlib.util.find_spec("torchtune").submodule_search_locations[0]
        spec = importlib.util.spec_from_file_location("torchtune.modules.position_embeddings",
                                                      os.path.join(folder, "modules", "position_embeddings.py"))
        positions = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(positions)
        torchtune, modules = types.ModuleType("torchtune"), types.ModuleType("torchtune.modules")
        torchtune.modules, modules.RotaryPositionalEmbeddings = modules, positions.RotaryPositionalEmbeddings
        torchtune.__golden_standin__ = True
        sys.modules.update({"torchtune": torchtune, "torchtune.modules": modules,
                            "torchtune.modules.position_embeddings": positions})
        installed.append("torchtune.modules (torchtune's RotaryPositionalEmbeddings only)")
    try:
        __import__("torchaudio")
        return installed
    except ImportError:
        pass

    def unavailable(*_args, **_kwargs):
        raise NotImplementedError("torchaudio stand-in: file loading and resampling are not available")

    standin = types.ModuleType("torchaudio")
    standin.transforms = types.ModuleType("torchaudio.transforms")
    standin.load = unavailable
    standin.transforms.Resample = unavailable
    standin.__golden_standin__ = True
    sys.modules["torchaudio"], sys.modules["torchaudio.transforms"] = standin, standin.transforms
    return installed + ["torchaudio (inert)"]


# ------------------------------------------------------------------------------------ models and data

def semantic_config(size: str, **overrides):
    """The micro (or released) `Wav2Vec2BertConfig`."""
    from transformers import Wav2Vec2BertConfig

    return Wav2Vec2BertConfig(**{**SEMANTIC_COMMON, **SEMANTIC[size], **overrides})


def make_semantic(size: str):
    """The shared semantic model (eval mode) with non-trivial random weights."""
    import torch
    from transformers import Wav2Vec2BertModel

    torch.manual_seed(SEED_SEMANTIC)
    model = Wav2Vec2BertModel(semantic_config(size)).eval()
    make_nontrivial(model, torch.Generator().manual_seed(SEED_SEMANTIC), rescale=True)
    return model


def make_nontrivial(model, generator, rescale: bool = False, gains: tuple[float, float] = (0.8, 2.5)) -> None:
    """Random weights in which a mistake in any parameter path changes the numbers: weight-norm gains `gains`
    times |v|; SnakeBeta log-scale alpha, beta ~ N(0, 0.3); LayerNorm / RMSNorm / GroupNorm weights ~
    1 + N(0, 0.1) and their biases ~ N(0, 0.05); other biases + N(0, 0.05). With `rescale` (the semantic
    model, which transformers initialises with std 0.02) and for the plain convolutions of the decoder (trunc-
    normal std 0.02 by the official `init_weights`), weights ~ N(0, 1/fan_in)."""
    import torch
    from torch import nn

    norms = {id(m) for m in model.modules()
             if isinstance(m, (nn.LayerNorm, nn.GroupNorm)) or type(m).__name__ == "RMSNorm"}
    with torch.no_grad():
        for module in model.modules():
            for name, p in module.named_parameters(recurse=False):
                r = lambda: torch.randn(p.shape, generator=generator)  # noqa: E731
                if id(module) in norms:
                    p.copy_(1 + 0.1 * r() if name == "weight" else 0.05 * r())
                elif name in ("weight_g", "original0"):
                    v = module.weight_v if name == "weight_g" else module.original1
                    norm = v.flatten(1).norm(dim=1).reshape(p.shape)
                    p.copy_(norm * (gains[0] + (gains[1] - gains[0]) * torch.rand(p.shape, generator=generator)))
                elif type(module).__name__ == "SnakeBeta":   # alpha and beta (X-Codec2 names beta `bias`)
                    p.copy_(0.3 * r())
                elif name == "bias":
                    p.add_(0.05 * r())
                elif name == "weight" and p.dim() >= 2 and (rescale or isinstance(module, nn.Conv1d)):
                    if isinstance(module, nn.Embedding):
                        p.copy_(0.5 * r())
                    else:
                        p.copy_(r() / p[0].numel() ** 0.5)


def build_official(name: str, size: str, semantic):
    """The official `XCodec2Model` / `NeuCodec` object at `size`, made without its downloading `__init__`."""
    import torch
    from torch import nn
    from transformers import SeamlessM4TFeatureExtractor

    c = CODEC[size]
    torch.manual_seed(SEEDS[name])
    if name == "xcodec2":
        from transformers import PreTrainedModel
        from xcodec2.configuration_bigcodec import BigCodecConfig
        from xcodec2.modeling_xcodec2 import XCodec2Model
        from xcodec2.vq.codec_decoder_vocos import CodecDecoderVocos
        from xcodec2.vq.codec_encoder import CodecEncoder_Transformer as Encoder
        from xcodec2.vq.module import SemanticEncoder

        model = XCodec2Model.__new__(XCodec2Model)
        PreTrainedModel.__init__(model, BigCodecConfig(semantic_hidden_size=c["adapter"],
                                                        codec_encoder_hidden_size=c["encoder"]["hidden_dim"],
                                                        codec_decoder_hidden_size=c["decoder"]["hidden_dim"]))
    else:
        from neucodec.codec_decoder_vocos import CodecDecoderVocos
        from neucodec.codec_encoder import CodecEncoder as Encoder
        from neucodec.model import NeuCodec
        from neucodec.module import SemanticEncoder

        model = NeuCodec.__new__(NeuCodec)
        nn.Module.__init__(model)
        model.sample_rate, model.hop_length = OUT_RATE[name], HOP[name]
    model.semantic_model = semantic
    model.SemanticEncoder_module = SemanticEncoder(c["adapter"], c["adapter"], c["adapter"])
    model.CodecEnc = Encoder(**c["encoder"])
    model.generator = CodecDecoderVocos(hop_length=HOP[name], **c["decoder"])
    model.fc_prior = nn.Linear(*c["fc_prior"])
    model.fc_post_a = nn.Linear(*c["fc_post_a"])
    model.feature_extractor = SeamlessM4TFeatureExtractor()
    for part in ("SemanticEncoder_module", "CodecEnc", "generator", "fc_prior", "fc_post_a"):
        make_nontrivial(getattr(model, part), torch.Generator().manual_seed(SEEDS[name] + len(part)), gains=GAINS)
    return model.eval()


def speech_like(samples: int, rng: np.random.Generator) -> np.ndarray:
    """(samples,) float32: voiced harmonics on a gliding pitch, a syllable envelope and a little noise, peak 0.5."""
    t = np.arange(samples) / SAMPLE_RATE
    f0 = rng.uniform(100, 200) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1.5, 3) * t + rng.uniform(0, np.pi)))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voiced = sum(rng.uniform(0.3, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi)) for h in range(1, 16))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(4, 6) * t + rng.uniform(0, np.pi))
    row = envelope * voiced + 0.05 * rng.standard_normal(samples)
    return (0.5 * row / np.abs(row).max()).astype(np.float32)


def to_numpy(tensor) -> np.ndarray:
    """A copy of a torch tensor's values."""
    return tensor.detach().cpu().numpy().copy()


# ----------------------------------------------------------------------------------- the golden run

def run_official(name: str, model, wav: np.ndarray) -> dict[str, np.ndarray]:
    """One clip through the official `encode_code` then `decode_code`, every stage recorded by forward hooks.
    Returns the npz keys (without the clip suffix), batch dim squeezed, channels-last."""
    import torch

    rec: dict[str, object] = {}
    hooks = []

    def keep(key, pre=False, pick=lambda x: x):
        def hook(_module, args, output=None):
            rec[key] = pick(args[0] if pre else output)
        return hook

    m, gen = model, model.generator
    hooks += [m.CodecEnc.register_forward_pre_hook(keep("padded", pre=True)),
              m.semantic_model.register_forward_pre_hook(keep("features", pre=True)),
              m.semantic_model.register_forward_hook(keep("semantic", pick=lambda o: o.hidden_states[16])),
              m.SemanticEncoder_module.register_forward_hook(keep("adapted", pick=lambda o: o.transpose(1, 2))),
              m.CodecEnc.register_forward_hook(keep("acoustic")),
              m.fc_prior.register_forward_hook(keep("prior")),
              gen.quantizer.project_in.register_forward_hook(keep("fsq_in")),
              m.fc_post_a.register_forward_hook(keep("post")),
              gen.backbone.register_forward_hook(keep("backbone"))]
    with torch.no_grad():
        x = torch.from_numpy(wav)[None]
        codes = m.encode_code(x if name == "xcodec2" else x[None])     # (1, 1, F')
        recon = m.decode_code(codes)                                     # (1, 1, F' * hop)
    for h in hooks:
        h.remove()
    out = {"wav": wav, "codes": to_numpy(codes[0, 0]).astype(np.int64), "recon": to_numpy(recon[0, 0])}
    for key in STAGES:
        value = rec[key]
        out[key] = to_numpy(value[0, 0] if key == "padded" else value[0])
    return out


def recompute(name: str, model, wav: np.ndarray) -> dict[str, np.ndarray]:
    """The same stages by calling the official submodules in the order the official methods do (an independent
    check of the hooks): padding, features, semantic layer 16, adapter, acoustic encoder, length alignment,
    fc_prior, the generator's quantizer, codes -> fc_post_a -> backbone -> head."""
    import torch
    import torch.nn.functional as F

    m, gen = model, model.generator
    with torch.no_grad():
        x = torch.from_numpy(wav)[None]
        padded = F.pad(x, (0, 320 - x.shape[-1] % 320))
        fe_input = F.pad(padded[0], (160, 160)) if name == "xcodec2" else padded
        features = m.feature_extractor(fe_input, sampling_rate=16000, return_tensors="pt").input_features
        semantic = m.semantic_model(features).hidden_states[16]
        adapted = m.SemanticEncoder_module(semantic.transpose(1, 2))
        acoustic = m.CodecEnc(padded[:, None])
        n = min(adapted.shape[-1], acoustic.shape[1])
        prior = m.fc_prior(torch.cat([adapted[..., :n], acoustic.transpose(1, 2)[..., :n]], 1).transpose(1, 2))
        fsq_in = gen.quantizer.project_in(prior)
        _, codes, _ = gen(prior.transpose(1, 2), vq=True)
        post = m.fc_post_a(gen.quantizer.get_output_from_indices(codes.transpose(1, 2)))
        backbone = gen.backbone(post)
        recon = gen.head(backbone)[0]
    values = dict(padded=padded[0], features=features[0], semantic=semantic[0], adapted=adapted[0].T,
                  acoustic=acoustic[0], prior=prior[0], fsq_in=fsq_in[0], codes=codes[0, 0], post=post[0],
                  backbone=backbone[0], recon=recon[0, 0])
    return {k: to_numpy(v) for k, v in values.items()}


def bounded(model, fsq_in: np.ndarray) -> np.ndarray:
    """The values the official FSQ rounds: ResidualFSQ bounds project_in's output, then its (only) FSQ layer,
    at scale 1, bounds it again before rounding."""
    import torch

    layer = model.generator.quantizer.layers[0]
    with torch.no_grad():
        return to_numpy(layer.bound(layer.bound(torch.from_numpy(fsq_in))))


def tie_stats(model, fsq_in: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    """Frames with a bounded value within TIE_EPS of a rounding boundary (x.5), and the smallest distance; also
    checks that rounding these values gives the official codes."""
    z = bounded(model, fsq_in)
    distance = np.abs(z - np.floor(z) - 0.5)
    levels = np.array([4] * z.shape[-1])
    basis = np.cumprod(np.concatenate([[1], levels[:-1]]))
    assert np.array_equal(((np.round(z) + levels // 2) * basis).sum(-1).astype(np.int64), codes), "FSQ recompute"
    return {"frames": int(z.shape[0]), "tie_frames": int((distance.min(-1) < TIE_EPS).sum()),
            "min_distance": float(distance.min()), "distinct_codes": int(len(np.unique(codes)))}


# ------------------------------------------------------------------------------------------ layouts

def release_state_dict(module) -> "collections.OrderedDict":
    """`module.state_dict()` with parametrized weight norm written the way the releases store it
    (`weight_g` / `weight_v`, which `torch.nn.utils.parametrizations.weight_norm` also loads)."""
    out = collections.OrderedDict()
    for key, value in module.state_dict().items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g")
        key = key.replace(".parametrizations.weight.original1", ".weight_v")
        out[key] = value.detach().clone().contiguous()
    return out


def extra_training_parts(size: str, repo: str | None, seed: int) -> dict[str, object]:
    """fc_post_s and SemanticDecoder_module (the semantic reconstruction branch both releases still carry), and
    with the X-Codec-2.0 checkout the two discriminators, built by the official classes."""
    import torch
    from torch import nn
    from xcodec2.vq.module import SemanticDecoder

    c = CODEC[size]
    torch.manual_seed(seed + 7)
    parts = {"fc_post_s": nn.Linear(*c["fc_post_s"]),
             "SemanticDecoder_module": SemanticDecoder(c["fc_post_s"][1], c["semantic_decoder"], c["semantic_decoder"])}
    if repo is not None:
        sys.path.insert(0, os.path.abspath(repo))
        from module import HiFiGANMultiPeriodDiscriminator, SpecDiscriminator
        parts["discriminator"] = HiFiGANMultiPeriodDiscriminator(**DISCRIMINATORS["mpd"])
        parts["spec_discriminator"] = SpecDiscriminator(**DISCRIMINATORS["mstft"])
    for part in parts.values():
        make_nontrivial(part, torch.Generator().manual_seed(seed + 11))
    return parts


def hf_port_state_dict(model, config) -> dict[str, object]:
    """The official X-Codec2 weights in transformers' `Xcodec2Model` names (transformers 5.25 ships no conversion
    script; this follows upstream's convert_xcodec2_checkpoint.py): weight norm folded into plain weights;
    c_attn split into q/k/v_proj with q and k rows permuted per head from torchtune's interleaved rotary pairs
    to transformers' rotate-half halves; semantic layers past `num_hidden_layers` (16) dropped; and, where the
    port's single width is wider than the official encoder output / vq_dim, zero padding (see the docstring)."""
    import torch

    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for key in [k for k in sd if k.endswith(".parametrizations.weight.original0")]:
        base = key[: -len(".parametrizations.weight.original0")]
        sd[base + ".weight"] = torch._weight_norm(sd.pop(base + ".parametrizations.weight.original1"), sd.pop(key), 0)
    sem_layers, heads = config.semantic_model_config.num_hidden_layers, config.num_attention_heads
    width, sem_width = config.hidden_size, config.semantic_model_config.hidden_size
    out = {}
    for key, value in sd.items():
        parts = key.split(".")
        if key.endswith(".filter"):     # the anti-aliasing filters: non-persistent buffers in the port
            continue
        if key.startswith("semantic_model."):
            if parts[1:3] == ["encoder", "layers"] and int(parts[3]) >= sem_layers:
                continue
            out["semantic_encoder." + key[len("semantic_model."):]] = value
        elif key.startswith("SemanticEncoder_module."):
            rest = ".".join(parts[1:])
            for old, new in (("initial_conv", "conv1"), ("residual_blocks.1", "conv2"),
                             ("residual_blocks.3", "conv3"), ("final_conv", "conv4")):
                if rest.startswith(old + "."):
                    out["semantic_adapter." + new + rest[len(old):]] = value
        elif key.startswith("CodecEnc."):   # X-Codec2's SnakeBeta keeps beta as `bias`, the port as `beta`
            new = _encoder_key(parts[1:])
            new = new[:-len("act.bias")] + "act.beta" if new.endswith("act.bias") else new
            out["acoustic_encoder." + new] = value
        elif key.startswith("generator.quantizer.project_"):
            out["quantizer." + ".".join(parts[2:])] = value
        elif key.startswith("generator.backbone.transformers."):
            layer, rest = parts[3], ".".join(parts[4:])
            prefix = f"acoustic_decoder.layers.{layer}."
            if rest == "att.c_attn.weight":
                q, k, v = value.chunk(3, dim=0)
                out[prefix + "self_attn.q_proj.weight"] = _rope_rows(q, heads)
                out[prefix + "self_attn.k_proj.weight"] = _rope_rows(k, heads)
                out[prefix + "self_attn.v_proj.weight"] = v
            else:
                rest = (rest.replace("att.c_proj", "self_attn.o_proj").replace("att_norm", "input_layernorm")
                        .replace("ffn_norm", "post_attention_layernorm"))
                out[prefix + rest] = value
        elif key.startswith("generator.backbone."):
            rest = ".".join(parts[2:]).replace("final_layer_norm", "norm")
            out["acoustic_decoder." + rest] = value
        elif key.startswith("generator.head.out."):
            out["acoustic_decoder.head.linear." + parts[-1]] = value
        elif key.startswith("fc_prior."):
            out["fc_encoder." + parts[-1]] = value
        elif key.startswith("fc_post_a."):
            out["acoustic_decoder.fc." + parts[-1]] = value
    enc_width = model.CodecEnc.conv_final_block[1].out_channels
    vq_dim = model.fc_prior.out_features
    pad = _zero_pad
    out["acoustic_encoder.conv2.weight"] = pad(out["acoustic_encoder.conv2.weight"], (width,) + (None,) * 2)
    out["acoustic_encoder.conv2.bias"] = pad(out["acoustic_encoder.conv2.bias"], (width,))
    w = out["fc_encoder.weight"]   # (vq_dim, sem + enc): place the acoustic columns after sem_width
    wide = w.new_zeros(width + sem_width, width + sem_width)
    wide[:vq_dim, :sem_width], wide[:vq_dim, sem_width:sem_width + enc_width] = w[:, :sem_width], w[:, sem_width:]
    out["fc_encoder.weight"] = wide
    out["fc_encoder.bias"] = pad(out["fc_encoder.bias"], (width + sem_width,))
    out["quantizer.project_in.weight"] = pad(out["quantizer.project_in.weight"], (None, width + sem_width))
    out["quantizer.project_out.weight"] = pad(out["quantizer.project_out.weight"], (width + sem_width, None))
    out["quantizer.project_out.bias"] = pad(out["quantizer.project_out.bias"], (width + sem_width,))
    out["acoustic_decoder.fc.weight"] = pad(out["acoustic_decoder.fc.weight"], (None, width + sem_width))
    return out


def _encoder_key(parts: list[str]) -> str:
    """An official CodecEnc key (after `CodecEnc.`, weight norm folded) in the port's names."""
    if parts[0] == "conv_final_block":
        return ("snake1." if parts[1] == "0" else "conv2.") + ".".join(parts[2:])
    if parts[1] == "0":
        return "conv1." + ".".join(parts[2:])
    block = f"block.{int(parts[1]) - 1}."
    inner = int(parts[3])                               # conv_blocks.i.block.{0,1,2: ResidualUnit, 3: act, 4: conv}
    if inner < 3:
        unit = {"0": "snake1.", "1": "conv1.", "2": "snake2.", "3": "conv2."}[parts[5]]
        return block + f"res_unit{inner + 1}." + unit + ".".join(parts[6:])
    return block + ("snake1." if inner == 3 else "conv1.") + ".".join(parts[4:])


def _rope_rows(w, heads: int):
    """Rows of a q or k projection reordered per head: torchtune rotates pairs (2i, 2i+1), transformers'
    rotate_half rotates (i, i + d/2)."""
    d = w.shape[0] // heads
    return w.reshape(heads, d // 2, 2, -1).transpose(1, 2).reshape(w.shape)


def _zero_pad(t, shape):
    """`t` in the top-left corner of a zero tensor of `shape` (None keeps that dimension)."""
    shape = tuple(t.shape[i] if s is None else s for i, s in enumerate(shape)) + tuple(t.shape[len(shape):])
    out = t.new_zeros(shape)
    out[tuple(slice(0, n) for n in t.shape)] = t
    return out


def hf_port(model, size: str):
    """transformers' `Xcodec2Model` at the official model's sizes, holding its weights."""
    import torch
    from transformers import Xcodec2Config, Xcodec2Model

    c = CODEC[size]
    dec = c["decoder"]
    width = max(dec["hidden_dim"], c["encoder"]["hidden_dim"])
    sem = semantic_config(size, num_hidden_layers=16).to_dict()
    config = Xcodec2Config(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=dec["depth"],
                           num_attention_heads=dec["heads"], num_key_value_heads=dec["heads"],
                           head_dim=width // dec["heads"], encoder_hidden_size=c["encoder"]["ngf"],
                           downsampling_ratios=c["encoder"]["up_ratios"], semantic_model_config=sem,
                           quantization_dim=width + sem["hidden_size"], rope_parameters={"rope_type": "default",
                                                                                          "rope_theta": 10000.0})
    assert dec["pos_meb_dim"] == width // dec["heads"] and dec["hidden_dim"] == width
    torch.manual_seed(0)
    port = Xcodec2Model(config).eval()
    port.load_state_dict(hf_port_state_dict(model, config), strict=True)
    return port


def check_port(port, golden: dict[str, np.ndarray], clips: int) -> dict[str, float]:
    """transformers' port on the official features and padded waveform: its codes against the official ones,
    its audio against the official audio (max |difference| / official peak), its semantic layer 16."""
    import torch

    result = {"codes_equal": True, "audio_rel_max": 0.0, "semantic_max": 0.0}
    with torch.no_grad():
        for i in range(clips):
            feats = torch.from_numpy(golden[f"features_{i}"])[None]
            wav = torch.from_numpy(golden[f"padded_{i}"])[None, None]
            codes = port.encode(wav, input_features=feats).audio_codes[0, 0].numpy()
            audio = port.decode(audio_codes=torch.from_numpy(golden[f"codes_{i}"])[None, None]).audio_values
            sem = port.semantic_encoder(feats).last_hidden_state[0].numpy()
            ref = golden[f"recon_{i}"]
            result["codes_equal"] &= bool(np.array_equal(codes, golden[f"codes_{i}"]))
            result["audio_rel_max"] = max(result["audio_rel_max"],
                                          float(np.abs(audio[0, 0].numpy() - ref).max() / np.abs(ref).max()))
            result["semantic_max"] = max(result["semantic_max"], float(np.abs(sem - golden[f"semantic_{i}"]).max()))
    return result


def rotary_findings(size: str) -> dict[str, float]:
    """The official decoder's rotary embedding (torchtune's, on q/k shaped (b, heads, t, d)) against a rotation by
    the head index and by the time index, and one official TransformerBlock against transformers' Xcodec2 and
    NeuCodec decoder layers holding its weights (mapped with and without the per-head row permutation)."""
    import torch
    from torchtune.modules import RotaryPositionalEmbeddings
    from transformers import NeuCodecConfig, Xcodec2Config
    from transformers.models.neucodec import modeling_neucodec as nm
    from transformers.models.xcodec2 import modeling_xcodec2 as xm
    from xcodec2.vq.bs_roformer5 import TransformerBlock

    dec = CODEC[size]["decoder"]
    width, heads, d = dec["hidden_dim"], dec["heads"], dec["pos_meb_dim"]
    g = torch.Generator().manual_seed(5)
    rope = RotaryPositionalEmbeddings(dim=d)
    q = torch.randn(1, heads, 7, d, generator=g)

    def rotate(x, angle_index):  # pairs (2i, 2i+1) by angle index * 10000^(-2i/d)
        theta = 1.0 / 10000 ** (torch.arange(0, d, 2).float() / d)
        ang = angle_index[..., None] * theta
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack([x0 * ang.cos() - x1 * ang.sin(), x1 * ang.cos() + x0 * ang.sin()], -1).flatten(-2)

    by_head = rotate(q, torch.arange(heads).float()[:, None].expand(heads, 7))
    by_time = rotate(q, torch.arange(7).float()[None, :].expand(heads, 7))
    out = {"torchtune_vs_head_index": float((rope(q) - by_head).abs().max()),
           "torchtune_vs_time_index": float((rope(q) - by_time).abs().max())}

    torch.manual_seed(6)
    block = TransformerBlock(dim=width, n_heads=heads, rotary_embed=rope).eval()
    make_nontrivial(block, torch.Generator().manual_seed(6))
    x = torch.randn(1, 9, width, generator=g)
    with torch.no_grad():
        ref = block(x)
        for label, module, config_class in (("xcodec2", xm, Xcodec2Config), ("neucodec", nm, NeuCodecConfig)):
            config = config_class(hidden_size=width, intermediate_size=4 * width,
                                                    num_attention_heads=heads, num_key_value_heads=heads,
                                                    head_dim=d, rope_parameters={"rope_type": "default",
                                                                                 "rope_theta": 10000.0})
            prefix = "Xcodec2" if label == "xcodec2" else "NeuCodec"
            layer = getattr(module, prefix + "DecoderLayer")(config, 0).eval()
            rotary = getattr(module, prefix + "RotaryEmbedding")(config)
            for permute in (True, False):
                sd = block.state_dict()
                wq, wk, wv = sd["att.c_attn.weight"].chunk(3, 0)
                fix = (lambda w: _rope_rows(w, heads)) if permute else (lambda w: w)
                layer.load_state_dict({"self_attn.q_proj.weight": fix(wq), "self_attn.k_proj.weight": fix(wk),
                                       "self_attn.v_proj.weight": wv,
                                       "self_attn.o_proj.weight": sd["att.c_proj.weight"],
                                       "mlp.fc1.weight": sd["mlp.fc1.weight"], "mlp.fc2.weight": sd["mlp.fc2.weight"],
                                       "input_layernorm.weight": sd["att_norm.weight"],
                                       "post_attention_layernorm.weight": sd["ffn_norm.weight"]})
                # the ports' own position ids: arange(num_attention_heads), as in their decoders' forward
                pos = rotary(x, torch.arange(heads)[None])
                y = layer(x, position_embeddings=pos)
                out[f"{label}_port_layer_{'permuted' if permute else 'unpermuted'}"] = float((y - ref).abs().max())
    return out


# ------------------------------------------------------------------------------------------- main

def write_model(name: str, size: str, model, semantic, wavs, args, report: dict) -> None:
    """The npz and the checkpoint layouts of one model."""
    import safetensors.torch
    import torch

    out_dir, tag = args.out, f"{name}_{size}"
    golden, ties = {}, []
    for i, wav in enumerate(wavs):
        got = run_official(name, model, wav)
        again = recompute(name, model, wav)
        diffs = {k: float(np.abs(got[k].astype(np.float64) - again[k]).max()) for k in again}
        assert all(v == 0.0 for v in diffs.values()), diffs
        key = f"{name}_hooks_vs_submodule_chain_max"
        report[key] = max(report.get(key, 0.0), *diffs.values())
        ties.append(tie_stats(model, got["fsq_in"], got["codes"]))
        golden.update({f"{k}_{i}": v for k, v in got.items()})
        print(f"{tag} clip {i}: {len(wav)} samples -> {len(got['codes'])} codes, {len(got['recon'])} samples; "
              f"ties {ties[-1]}", flush=True)
    report[f"{name}_ties"] = ties
    np.savez(os.path.join(out_dir, f"{tag}.npz"), **golden)

    extra = extra_training_parts(size, args.xcodec2_repo if name == "xcodec2" else None, SEEDS[name])
    sd = release_state_dict(model)
    if name == "xcodec2":
        safetensors.torch.save_file(dict(sd), os.path.join(out_dir, f"{tag}.safetensors"), metadata={"format": "pt"})
        hparams = {"codec_encoder": CODEC[size]["encoder"], "codec_decoder": CODEC[size]["decoder"], **DISCRIMINATORS}
        full_sd = collections.OrderedDict(sd)
        for part, module in extra.items():
            full_sd.update((f"{part}.{k}", v) for k, v in release_state_dict(module).items())
        torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": "2.4.0", "state_dict": full_sd,
                    "loops": {}, "callbacks": {}, "optimizer_states": [], "lr_schedulers": [],
                    "hparams_name": "cfg", "hyper_parameters": {"cfg": {"model": hparams}}},
                   os.path.join(out_dir, f"{tag}.ckpt"))
        port = hf_port(model, size)
        port.save_pretrained(os.path.join(out_dir, f"{tag}_hf"))
        from transformers import Xcodec2Model
        report["hf_port"] = check_port(Xcodec2Model.from_pretrained(os.path.join(out_dir, f"{tag}_hf")).eval(),
                                       golden, len(wavs))
        print("hf port:", report["hf_port"], flush=True)
    else:
        for part, module in extra.items():
            sd.update((f"{part}.{k}", v) for k, v in release_state_dict(module).items())
        torch.save(sd, os.path.join(out_dir, f"{tag}.bin"))
    report[f"{name}_reload"] = check_reload(name, size, semantic, out_dir, tag, golden)
    print(f"{tag} reload from the release layout:", report[f"{name}_reload"], flush=True)


def check_reload(name: str, size: str, semantic, out_dir: str, tag: str, golden) -> dict[str, object]:
    """A fresh official model loads the written release file (strictly, the extra training keys filtered the
    way NeuCodec's `_from_pretrained` filters them) and gives the same codes and audio on clip 0."""
    import safetensors.torch
    import torch

    fresh = build_official(name, size, copy.deepcopy(semantic))
    if name == "xcodec2":
        state = safetensors.torch.load_file(os.path.join(out_dir, f"{tag}.safetensors"))
    else:
        state = torch.load(os.path.join(out_dir, f"{tag}.bin"), weights_only=True)
        state = {k: v for k, v in state.items() if "fc_post_s" not in k and "SemanticDecoder" not in k}
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    fresh.load_state_dict(state, strict=True)
    got = run_official(name, fresh, golden["wav_0"])
    return {"codes_equal": bool(np.array_equal(got["codes"], golden["codes_0"])),
            "recon_max": float(np.abs(got["recon"] - golden["recon_0"]).max())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xcodec2", required=True, help="folder holding the xcodec2 pip package (0.1.5)")
    parser.add_argument("--neucodec", required=True, help="checkout of github.com/neuphonic/neucodec")
    parser.add_argument("--xcodec2-repo", help="checkout of github.com/zhenye234/X-Codec-2.0 (discriminators)")
    parser.add_argument("--out", required=True, help="folder for the files (tests/golden for micro)")
    parser.add_argument("--full", action="store_true", help="the released sizes (gigabytes; not for the repository)")
    parser.add_argument("--models", default="xcodec2,neucodec", help="comma-separated subset")
    args = parser.parse_args(argv)
    size = "full" if args.full else "micro"

    import torch
    import transformers
    from importlib.metadata import version

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    standins = install_standins()
    sys.path.insert(0, os.path.abspath(args.neucodec))
    sys.path.insert(0, os.path.abspath(args.xcodec2))
    os.makedirs(args.out, exist_ok=True)

    wavs = [speech_like(n, np.random.default_rng(SEEDS["xcodec2"] + n)) for n in CLIP_SAMPLES]
    semantic = make_semantic(size)
    print(f"{size}: semantic model {sum(p.numel() for p in semantic.parameters()):,} values", flush=True)
    report: dict[str, object] = {"rotary": rotary_findings(size)}
    print("rotary:", report["rotary"], flush=True)
    if "xcodec2" in args.models:  # the semantic model alone, as facebook/w2v-bert-2.0 ships it
        from transformers import SeamlessM4TFeatureExtractor
        semantic.save_pretrained(os.path.join(args.out, f"w2v_bert_{size}"))
        SeamlessM4TFeatureExtractor().save_pretrained(os.path.join(args.out, f"w2v_bert_{size}"))
    sizes = {}
    for name in args.models.split(","):
        with contextlib.redirect_stdout(io.StringIO()):  # some official constructors print
            model = build_official(name, size, semantic)
        print(f"{name}: {sum(p.numel() for p in model.parameters()):,} values", flush=True)
        write_model(name, size, model, semantic, wavs, args, report)
        sizes[name] = dict(CODEC[size], semantic={**SEMANTIC_COMMON, **SEMANTIC[size]},
                           hop_length=HOP[name], n_fft=4 * HOP[name], output_sample_rate=OUT_RATE[name],
                           input_sample_rate=SAMPLE_RATE, fsq_levels=[4] * 8, seed=SEEDS[name],
                           semantic_seed=SEED_SEMANTIC, clip_samples=list(CLIP_SAMPLES))
    if args.models == "xcodec2,neucodec":
        with open(os.path.join(args.out, f"family_{size}.json"), "w") as f:
            json.dump({"models": sizes, "discriminators": DISCRIMINATORS,
                       "versions": {p: version(p) for p in ("torch", "transformers", "vector-quantize-pytorch",
                                                             "torchtune", "safetensors")},
                       "standins": standins, "checks": report}, f, indent=1)
            f.write("\n")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, stand-ins: {standins or 'none'}")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
