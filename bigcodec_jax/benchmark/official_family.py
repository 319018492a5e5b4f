"""The official X-Codec2 / NeuCodec (float32, eval, no_grad) on a released checkpoint file, timed run by run.

Run by `benchmark family` (through `official_torch.TorchProcess`) in an interpreter with torch and
transformers; it imports nothing from bigcodec_jax. The official class is built by its own `__init__`
with facebook/w2v-bert-2.0 read from `--w2v-bert` (a local folder instead of the hub), then loads
the checkpoint strictly (NeuCodec: without `fc_post_s` / `SemanticDecoder`, as its `_from_pretrained`).
The stand-ins for missing torchaudio / torchtune come from `--golden-script` (the repository's
tests/golden/make_family_golden.py). Each stdin line `run` encodes every clip of `--clips` alone
(`encode_code`: the official code takes one clip a call) and decodes their codes in one `decode_code`
call, answering a JSON line like official_torch.py's; `save PATH` writes the last run's codes and audio.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time

import numpy as np


def build(model: str, code: str, checkpoint: str, w2v_bert: str, golden_script: str):
    import torch
    import transformers

    spec = importlib.util.spec_from_file_location("make_family_golden", golden_script)
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    golden.install_standins()
    sys.path.insert(0, code)
    for cls in (transformers.Wav2Vec2BertModel, transformers.AutoFeatureExtractor):  # the hub id -> the folder
        original = cls.from_pretrained.__func__
        cls.from_pretrained = classmethod(lambda c, _id, *a, _f=original, **k: _f(c, w2v_bert, *a, **k))
    if model == "xcodec2":
        from safetensors.torch import load_file
        from xcodec2.configuration_bigcodec import BigCodecConfig
        from xcodec2.modeling_xcodec2 import XCodec2Model

        official, state = XCodec2Model(BigCodecConfig()), load_file(checkpoint)
    else:
        from neucodec.model import NeuCodec

        official = NeuCodec(24_000, 480)
        state = {k: v for k, v in torch.load(checkpoint, weights_only=True).items()
                 if "fc_post_s" not in k and "SemanticDecoder" not in k}
    official.load_state_dict(state, strict=True)
    return official.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["xcodec2", "neucodec"], required=True)
    parser.add_argument("--code", required=True, help="folder holding the `xcodec2` package, or a neucodec checkout")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--w2v-bert", required=True, help="local copy of facebook/w2v-bert-2.0")
    parser.add_argument("--golden-script", required=True)
    parser.add_argument("--clips", required=True, help=".npy (batch, samples) float32 at 16 kHz")
    args = parser.parse_args()

    import torch  # imported here: only this interpreter needs torch

    model = build(args.model, args.code, args.checkpoint, args.w2v_bert, args.golden_script)
    clips = torch.from_numpy(np.load(args.clips))
    codes = audio = None
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["save"]:
            np.savez(command[1], codes=codes.numpy(), audio=audio.numpy())
            print(json.dumps({}), flush=True)
            continue
        with torch.no_grad():
            start, cpu = time.perf_counter(), time.process_time()
            codes = torch.cat([model.encode_code(c[None] if args.model == "xcodec2" else c[None, None])
                               for c in clips])                                            # (B, 1, F)
            middle = time.perf_counter()
            audio = model.decode_code(codes)[:, 0]                                         # (B, F * hop)
            end = time.perf_counter()
        with open("/proc/self/status") as f:
            peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 2 ** 20
        print(json.dumps({"encode_s": middle - start, "decode_s": end - middle, "cpu_s": time.process_time() - cpu,
                          "threads": torch.get_num_threads(), "torch": torch.__version__, "device": "cpu",
                          "peak_gib": peak}), flush=True)


if __name__ == "__main__":
    main()
