"""`inference.py encode | decode | reconstruct`: audio files <-> codes files <-> 16 kHz wav.

Output files mirror the input tree. Outputs are written atomically and skipped when they exist
(unless --overwrite), so an interrupted run resumes where it stopped. Unreadable inputs are
reported by name and skipped; the exit status is 1 when any input failed.
"""
from __future__ import annotations

import argparse
import os
import sys

import soundfile as sf
from tqdm import tqdm

from bigcodec_jax import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.inference import codes_file
from bigcodec_jax.inference.files import AUDIO_EXTENSIONS, expand_inputs, read_audio, write_atomic

CODES_SUFFIX = ".codes.npz"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inference.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    helps = {"encode": "audio files, folders or file lists -> one codes file per input",
             "decode": "codes files or folders of them -> 16 kHz wav",
             "reconstruct": "audio -> codes -> audio (what the official inference.py does)"}
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders (searched recursively) or lists")
        p.add_argument("--checkpoint", required=True, help="official .pt/.ckpt or a converted directory")
        p.add_argument("--output", required=True, help="output folder; the input tree is mirrored inside")
        p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                       help="compute dtype (float32 reproduces the official model)")
        p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    return parser


def _output_path(output: str, rel: str, suffix: str) -> str:
    stem = rel[: -len(CODES_SUFFIX)] if rel.endswith(CODES_SUFFIX) else os.path.splitext(rel)[0]
    return os.path.join(output, stem + suffix)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    codec = BigCodec.from_pretrained(args.checkpoint, dtype=args.dtype)
    model_fingerprint = codes_file.fingerprint(codec.params)
    extensions = (CODES_SUFFIX,) if args.command == "decode" else AUDIO_EXTENSIONS
    suffix = CODES_SUFFIX if args.command == "encode" else ".wav"
    jobs = list(expand_inputs(args.inputs, extensions))
    failed, done, skipped = [], 0, 0
    for path, rel in tqdm(jobs, desc=args.command, unit="file"):
        out = _output_path(args.output, rel, suffix)
        if os.path.exists(out) and not args.overwrite:
            skipped += 1
            continue
        try:
            if args.command == "decode":
                codes, length = codes_file.load(path, model_fingerprint)
                codes = codes[None]
            else:
                samples, rate = read_audio(path)
                codes = codec.encode(samples, sample_rate=rate)
                length = round(len(samples) * SAMPLE_RATE / rate)
            if args.command == "encode":
                write_atomic(out, lambda tmp: codes_file.save(tmp, codes[0], length, rate, codec.config,
                                                              model_fingerprint))
            else:
                wav = codec.decode(codes, length=length)[0]
                write_atomic(out, lambda tmp: sf.write(tmp, wav, SAMPLE_RATE, format="WAV"))
            done += 1
        except ValueError as e:
            failed.append(path)
            tqdm.write(f"failed: {path}: {e}", file=sys.stderr)
    print(f"{args.command}: {done} written, {skipped} already done, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0
