"""Regenerate the committed golden set (`tests/golden/micro*`) with the official PyTorch BigCodec.

    python tests/golden/make_golden.py --official /path/to/BigCodec --out tests/golden

Runs in an interpreter with torch, numpy, einops, omegaconf and pytorch_lightning (the tests never
need any of them). It imports the official modules from the `--official` checkout and copies none of
their code: the model is built by the official `CodecLightningModule` and trained for two steps by its
own `training_step` under a real Lightning `Trainer`, which also writes the `.ckpt`. Two small
stand-ins are installed only when the real package is missing: `torchaudio.transforms.MelSpectrogram`
(the criterion's mel spectrogram, rebuilt from torchaudio's definitions; see `README.md` for its check
against the public golden data) and `hydra.utils.get_original_cwd` (read by the module's constructor,
used for nothing here). Everything is seeded and single-threaded, so a rerun writes the same numbers.

Writes `manifest.json` (the released full-size layout, key -> shape), `micro.json` (constructor
arguments), `micro.pt` (released layout with both discriminators), `micro.npz` (one forward pass of
every module), `micro_train.npz` (two training steps) and `micro_lightning.ckpt` (the Lightning
checkpoint after those steps); `README.md` says what each holds.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import types

import numpy as np

NAME = "micro"
SEED = 20240611
SAMPLE_RATE = 16000
BATCH, SAMPLES = 2, 4000      # 0.25 s: 20 code frames, and longer than the mel loss's 2048-sample window
STEPS = 2

# The official constructor arguments (names as in the official config/model/*.yaml). The generator has
# the strides of the official debug model (2, 4, 5, 5; hop 200), two-layer LSTMs like the release, and a
# residual stack of two quantizers; the discriminators have the debug model's counts (3 periods, 3
# resolutions) with two to eight channels, so that every layer kind runs while the files stay small.
MODEL = {
    "encoder": dict(ngf=2, use_rnn=True, rnn_bidirectional=False, rnn_num_layers=2, up_ratios=[2, 4, 5, 5],
                    dilations=[1, 3, 9], out_channels=32),
    "decoder": dict(in_channels=32, upsample_initial_channel=32, ngf=2, use_rnn=True, rnn_bidirectional=False,
                    rnn_num_layers=2, up_ratios=[5, 5, 4, 2], dilations=[1, 3, 9], vq_num_quantizers=2, vq_dim=32,
                    vq_commit_weight=0.25, vq_full_commit_loss=False, codebook_size=256, codebook_dim=8),
    "mpd": dict(periods=[2, 3, 5], max_downsample_channels=8, channels=2, channel_increasing_factor=4),
    "mstft": dict(stft_params=dict(fft_sizes=[256, 512, 1024], hop_sizes=[64, 128, 256],
                                   win_lengths=[256, 512, 1024], window="hann_window"),
                  in_channels=1, out_channels=1, kernel_sizes=[5, 3], channels=2, max_downsample_channels=8,
                  downsample_scales=[2, 2, 2], use_weight_norm=True),
}


# ----------------------------------------------------------------------------------------- stand-ins

def _torchaudio_standin() -> types.ModuleType:
    """`torchaudio.transforms.MelSpectrogram` as torchaudio defines it (Spectrogram with a periodic Hann
    window and `torch.stft`, then `melscale_fbanks`), with the same buffer names (`spectrogram.window`,
    `mel_scale.fb`), so the criterion's state dict matches a real install's."""
    import torch
    from torch import nn

    def hz_to_mel(freq: float, mel_scale: str) -> float:
        if mel_scale == "htk":
            return 2595.0 * math.log10(1.0 + freq / 700.0)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
        mels = freq / f_sp
        if freq >= min_log_hz:
            mels = min_log_hz / f_sp + math.log(freq / min_log_hz) / logstep
        return mels

    def mel_to_hz(mels: torch.Tensor, mel_scale: str) -> torch.Tensor:
        if mel_scale == "htk":
            return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
        f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, math.log(6.4) / 27.0
        min_log_mel = min_log_hz / f_sp
        freqs = f_sp * mels
        log_t = mels >= min_log_mel
        freqs[log_t] = min_log_hz * torch.exp(logstep * (mels[log_t] - min_log_mel))
        return freqs

    def melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, mel_scale):
        all_freqs = torch.linspace(0, sample_rate // 2, n_freqs)
        m_pts = torch.linspace(hz_to_mel(f_min, mel_scale), hz_to_mel(f_max, mel_scale), n_mels + 2)
        f_pts = mel_to_hz(m_pts, mel_scale)
        f_diff = f_pts[1:] - f_pts[:-1]
        slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
        down_slopes = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
        up_slopes = slopes[:, 2:] / f_diff[1:]
        fb = torch.max(torch.zeros(1), torch.min(down_slopes, up_slopes))
        if norm == "slaney":
            fb *= (2.0 / (f_pts[2:n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
        return fb

    class Spectrogram(nn.Module):
        def __init__(self, n_fft, win_length, hop_length, power, center, pad_mode):
            super().__init__()
            self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
            self.power, self.center, self.pad_mode = power, center, pad_mode
            self.register_buffer("window", torch.hann_window(win_length))

        def forward(self, waveform):
            shape = waveform.size()
            spec = torch.stft(waveform.reshape(-1, shape[-1]), n_fft=self.n_fft, hop_length=self.hop_length,
                              win_length=self.win_length, window=self.window, center=self.center,
                              pad_mode=self.pad_mode, normalized=False, onesided=True, return_complex=True)
            spec = spec.reshape(shape[:-1] + spec.shape[-2:])
            return spec.abs() if self.power == 1.0 else spec.abs().pow(self.power)

    class MelScale(nn.Module):
        def __init__(self, n_mels, sample_rate, f_min, f_max, n_stft, norm, mel_scale):
            super().__init__()
            f_max = f_max if f_max is not None else float(sample_rate // 2)
            self.register_buffer("fb", melscale_fbanks(n_stft, f_min, f_max, n_mels, sample_rate, norm, mel_scale))

        def forward(self, specgram):
            return torch.matmul(specgram.transpose(-1, -2), self.fb).transpose(-1, -2)

    class MelSpectrogram(nn.Module):
        def __init__(self, sample_rate=16000, n_fft=400, win_length=None, hop_length=None, f_min=0.0, f_max=None,
                     pad=0, n_mels=128, window_fn=None, power=2.0, normalized=False, wkwargs=None, center=True,
                     pad_mode="reflect", onesided=None, norm=None, mel_scale="htk"):
            super().__init__()
            if pad or normalized or wkwargs or window_fn not in (None, torch.hann_window):
                raise NotImplementedError("the stand-in covers the arguments BigCodec's mel loss uses")
            win_length = win_length or n_fft
            self.spectrogram = Spectrogram(n_fft, win_length, hop_length or win_length // 2, power, center, pad_mode)
            self.mel_scale = MelScale(n_mels, sample_rate, f_min, f_max, n_fft // 2 + 1, norm, mel_scale)

        def forward(self, waveform):
            return self.mel_scale(self.spectrogram(waveform))

    torchaudio = types.ModuleType("torchaudio")
    torchaudio.transforms = types.ModuleType("torchaudio.transforms")
    torchaudio.transforms.MelSpectrogram = MelSpectrogram
    torchaudio.__golden_standin__ = True
    return torchaudio


def install_standins() -> list[str]:
    """Put the stand-ins in `sys.modules` where the real packages are missing; returns their names."""
    installed = []
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        torchaudio = _torchaudio_standin()
        sys.modules["torchaudio"], sys.modules["torchaudio.transforms"] = torchaudio, torchaudio.transforms
        installed.append("torchaudio")
    try:
        import hydra.utils
    except ImportError:
        hydra = types.ModuleType("hydra")
        hydra.utils = types.ModuleType("hydra.utils")
        sys.modules["hydra"], sys.modules["hydra.utils"] = hydra, hydra.utils
        installed.append("hydra")
    sys.modules["hydra.utils"].get_original_cwd = os.getcwd  # the module keeps it as `ocwd`, unused in training
    return installed


# ------------------------------------------------------------------------------------ model and data

def official_config(official: str):
    """The official training config (`config/{train,preprocess,dataset}/default.yaml`) with the micro
    model in `model` and a batch of `BATCH`."""
    from omegaconf import OmegaConf

    load = lambda group: OmegaConf.load(os.path.join(official, "config", group, "default.yaml"))  # noqa: E731
    model = {"codec_encoder": MODEL["encoder"], "codec_decoder": MODEL["decoder"], "mpd": MODEL["mpd"],
             "mstft": MODEL["mstft"]}
    cfg = OmegaConf.create({"model": model, "train": load("train"), "preprocess": load("preprocess"),
                            "dataset": load("dataset")})
    cfg.dataset.train.batch_size = BATCH
    return cfg


def make_nontrivial(model, generator) -> None:
    """Random weights in which a mistake in any parameter path changes the numbers: weight-norm gains
    away from |v| (0.6 to 1.6 times it in the decoder, so its tanh output stays mostly linear; 0.8 to
    2.5 times elsewhere, so the latents spread over many codes), SnakeBeta log-scale alpha and beta ~
    N(0, 0.3), biases ~ N(0, 0.05) on top of the official initialisation. LSTM weights and codebooks
    keep their (already non-trivial) PyTorch initialisation."""
    import torch

    with torch.no_grad():
        params = dict(model.named_parameters())
        for name, p in params.items():
            if name.endswith("weight_g"):
                low, high = (0.6, 1.6) if name.startswith("generator.model.") else (0.8, 2.5)
                norm = params[name[:-1] + "v"].flatten(1).norm(dim=1).reshape(p.shape)
                p.copy_(norm * (low + (high - low) * torch.rand(p.shape, generator=generator)))
            elif name.endswith((".alpha", ".beta")):
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))
            elif name.endswith(".bias") and "lstm" not in name:
                p.add_(0.05 * torch.randn(p.shape, generator=generator))


def speech_like(rng: np.random.Generator) -> np.ndarray:
    """(BATCH, SAMPLES) float32: voiced harmonics on a gliding pitch, a syllable envelope and a little
    noise, different per row, peak 0.5."""
    t = np.arange(SAMPLES) / SAMPLE_RATE
    rows = []
    for b in range(BATCH):
        f0 = (110 + 60 * b) * (1 + 0.15 * np.sin(2 * np.pi * (2 + b) * t + rng.uniform(0, np.pi)))
        phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
        voiced = sum(rng.uniform(0.3, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi)) for h in range(1, 16))
        envelope = 0.55 + 0.45 * np.sin(2 * np.pi * (5 + b) * t + rng.uniform(0, np.pi))
        row = envelope * voiced + 0.05 * rng.standard_normal(SAMPLES)
        rows.append(0.5 * row / np.abs(row).max())
    return np.stack(rows).astype(np.float32)


def to_numpy(tensor) -> np.ndarray:
    """A copy of a torch tensor's values."""
    return tensor.detach().cpu().numpy().copy()


def manifest(official: str) -> dict[str, dict[str, list[int]]]:
    """Key -> shape of every tensor of the released, full-size model (config/model/default.yaml), built
    on the meta device (shapes only, no memory)."""
    import torch
    from omegaconf import OmegaConf
    from module import HiFiGANMultiPeriodDiscriminator, SpecDiscriminator
    from vq import CodecDecoder, CodecEncoder

    cfg = OmegaConf.to_container(OmegaConf.load(os.path.join(official, "config", "model", "default.yaml")))
    with torch.device("meta"):
        parts = {"CodecEnc": CodecEncoder(**cfg["codec_encoder"]), "generator": CodecDecoder(**cfg["codec_decoder"]),
                 "discriminator": HiFiGANMultiPeriodDiscriminator(**cfg["mpd"]),
                 "spec_discriminator": SpecDiscriminator(**cfg["mstft"])}
    return {name: {key: list(t.shape) for key, t in part.state_dict().items()} for name, part in parts.items()}


# ------------------------------------------------------------------------------------- forward pass

def forward_golden(module, wav) -> dict[str, np.ndarray]:
    """The keys of the public `<config>.npz` files: every module's output on `wav` (see README.md)."""
    import torch

    model, criteria = module.model, module.criteria
    enc, gen = model["CodecEnc"], model["generator"]
    y = torch.from_numpy(wav)
    out: dict[str, np.ndarray] = {"wav": wav}
    with torch.no_grad():
        enc_out = enc(y.unsqueeze(1))
        quantized, codes, vq_loss = gen(enc_out, vq=True)
        recon = gen(quantized, vq=False).squeeze(1)
        embedded = gen.vq2emb(codes.permute(1, 2, 0)).transpose(1, 2)
        gen.quantizer.train()  # vq2emb switched it to eval mode; training needs its loss again
        out.update(enc_out=enc_out, quantized=quantized, codes=codes, recon=recon,
                   recon_from_codes=gen(embedded, vq=False).squeeze(1), vq_loss_train=vq_loss)
        stft = MODEL["mstft"]["stft_params"]
        from common.audio import stft as official_stft
        for i, (n_fft, hop, win) in enumerate(zip(stft["fft_sizes"], stft["hop_sizes"], stft["win_lengths"])):
            out[f"stft_mag_{i}"] = official_stft(y, n_fft, hop, win, window=torch.hann_window(win))
        mel_loss = criteria["mel_loss"]
        for i, transform in enumerate(mel_loss.mel_transforms):
            out[f"mel_{i}"] = transform(y)
        out["mel_loss"] = mel_loss(recon, y)
        for family, disc in (("mpd", model["discriminator"]), ("mstft", model["spec_discriminator"])):
            for side, signal in (("real", y), ("fake", recon)):
                for i, features in enumerate(disc(signal.unsqueeze(1))):
                    for j, feature in enumerate(features):
                        out[f"{family}_{side}_{i}_{j}"] = feature
        real_loss, fake_loss = criteria["gan_loss"].disc_loss(
            model["discriminator"](y.unsqueeze(1))[0][-1], model["discriminator"](recon.unsqueeze(1))[0][-1])
        out.update(lsgan_real_0=real_loss, lsgan_fake_0=fake_loss)
    return {k: v if isinstance(v, np.ndarray) else to_numpy(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------- training steps

def recording_module(official_module_class):
    """The official module, recording what `training_step` computes (nothing it does is changed)."""

    class Recording(official_module_class):
        def __init__(self, cfg):
            super().__init__(cfg)
            self.record = {}
            self._clips = 0

        def forward(self, batch):
            output = super().forward(batch)
            self.record[f"codes_{self._clips // 2}"] = to_numpy(output["vq_code"])
            return output

        def clip_gradients(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            step, side = divmod(self._clips, 2)  # training_step clips the discriminator's, then the generator's
            self.record[f"lr_{step}"] = np.float32(optimizer.param_groups[0]["lr"])
            if step == 0:  # this optimizer's gradients before clipping (the other side's may be stale)
                prefix = "grad_d/" if side == 0 else "grad_g/"
                mine = {id(p) for group in optimizer.param_groups for p in group["params"]}
                for name, p in self.model.named_parameters():
                    if id(p) in mine:
                        self.record[prefix + name] = to_numpy(p.grad)
            self._clips += 1
            super().clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

        def log_dict(self, dictionary, *args, **kwargs):
            step = (self._clips - 1) // 2
            for key, value in dictionary.items():
                self.record[f"{key}_{step}"] = np.float32(value.item())
            super().log_dict(dictionary, *args, **kwargs)

    return Recording


def train_golden(module, wav, ckpt_path: str) -> dict[str, np.ndarray]:
    """Two steps of the official `training_step` on `wav` under a Lightning Trainer (float32, CPU); the
    Trainer writes the checkpoint. Returns the keys of the public `tiny_train_train.npz`."""
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader

    batches = [{"wav": torch.from_numpy(row)} for row in wav] * STEPS  # STEPS batches of the same BATCH rows
    loader = DataLoader(batches, batch_size=BATCH, shuffle=False)
    trainer = pl.Trainer(accelerator="cpu", devices=1, precision="32-true", max_epochs=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, limit_val_batches=0, deterministic=True)
    trainer.fit(module, train_dataloaders=loader)
    assert module._clips == 2 * STEPS, module._clips
    trainer.save_checkpoint(ckpt_path)

    record = dict(module.record, wav=wav)
    for k in range(STEPS):
        record[f"fm_loss_{k}"] = record[f"fm_loss_{k}"] + record.pop(f"spec_fm_loss_{k}")  # as the public file
    for name, p in module.model.named_parameters():
        record[f"param_after/{name}"] = to_numpy(p)
    return record


# ------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, help="checkout of github.com/Aria-K-Alethia/BigCodec")
    parser.add_argument("--out", required=True, help="folder for the micro* files (tests/golden)")
    args = parser.parse_args(argv)

    import torch
    import pytorch_lightning as pl

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    standins = install_standins()
    sys.path.insert(0, os.path.abspath(args.official))
    from lightning_module import CodecLightningModule

    os.makedirs(args.out, exist_ok=True)
    path = lambda suffix: os.path.join(args.out, NAME + suffix)  # noqa: E731
    pl.seed_everything(SEED, verbose=False)
    with contextlib.redirect_stdout(io.StringIO()):  # the constructor prints the whole model
        module = recording_module(CodecLightningModule)(official_config(args.official))
    make_nontrivial(module.model, torch.Generator().manual_seed(SEED))
    wav = speech_like(np.random.default_rng(SEED))

    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest(args.official), f, indent=0)
    with open(path(".json"), "w") as f:
        json.dump(MODEL, f, indent=1)
        f.write("\n")
    torch.save({name: part.state_dict() for name, part in module.model.items()}, path(".pt"))
    np.savez(path(".npz"), **forward_golden(module, wav))
    np.savez(path("_train.npz"), **train_golden(module, wav, path("_lightning.ckpt")))

    print(f"torch {torch.__version__}, pytorch_lightning {pl.__version__}, stand-ins: {', '.join(standins) or 'none'}")
    for name in ("manifest.json", *(NAME + s for s in (".json", ".pt", ".npz", "_train.npz", "_lightning.ckpt"))):
        print(f"{os.path.join(args.out, name)}: {os.path.getsize(os.path.join(args.out, name)):,} bytes")


if __name__ == "__main__":
    main()
