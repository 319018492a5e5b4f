"""`inference.py encode | decode | reconstruct`: audio files <-> codes files <-> 16 kHz wav.

  encode       audio files, folders (searched recursively) or file lists -> one .codes.npz per input,
               or with --format arrayrecord codes shards of a whole corpus for LM training
  decode       .codes.npz files or folders of them, or codes shard directories -> 16 kHz wav
  reconstruct  audio -> codes -> 16 kHz wav (what the official inference.py does)

Outputs mirror the input tree under --output. Files are grouped by length into a few padded
sizes and run in batches split over the local devices; files longer than --window run in
chunks, with the same codes and audio as at once. Padding never changes a result. Outputs are
written atomically and skipped when they exist (unless --overwrite), so a rerun resumes an
interrupted run; unreadable or empty inputs are reported by name and skipped, the summary
counts them and the exit status is 1 when any failed. The codes file format (version 2, plain
or packed to 13 bits per code) is described in bigcodec_jax/inference/codes_file.py, codes shards in
bigcodec_jax/inference/codes_shards.py.

Several processes (`python -m bigcodec_jax.launch --processes N -- python inference.py ...`, or the
same command on every host of a cluster, see bigcodec_jax/distributed.py) share the work: with
--format arrayrecord each encodes whole shards (bigcodec_jax/inference/tokenise.py) and the output
does not depend on their number; otherwise each takes every N-th input. The exit status is the
job's, on every process, once all are done.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, NamedTuple

import jax
import numpy as np
import soundfile as sf

from bigcodec_jax import audio, distributed
from bigcodec_jax.api import BigCodec
from bigcodec_jax.inference import codes_file, codes_shards, tokenise
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.files import AUDIO_EXTENSIONS, audio_length, expand_inputs, read_audio, write_atomic
from bigcodec_jax.inference.pipeline import Job, run_batches

if TYPE_CHECKING:  # imported (with grain) only when a shard directory is decoded
    from bigcodec_jax.data.codes_source import CodesSource

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
        p.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="files, folders (searched recursively) or file lists (.txt/.lst/.list/.scp, one path "
                            "per line, text after '|' ignored)")
        p.add_argument("--checkpoint", required=True, help="official .pt/.ckpt or a converted directory")
        p.add_argument("--output", required=True, help="output folder; the input tree is mirrored inside")
        p.add_argument("--batch-size", type=int, default=8,
                       help="files per device batch, rounded up to a multiple of the device count (default 8)")
        p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                       help="compute dtype: float32 reproduces the official model, bfloat16 is faster on "
                            "accelerators (default float32)")
        p.add_argument("--devices", type=int, default=None,
                       help="use the first N local devices, a batch split evenly over them (default: all)")
        p.add_argument("--window", type=float, default=30.0,
                       help="seconds: longer files run in chunks of this size, memory independent of their "
                            "length; shorter ones are padded to one of a few sizes up to it (default 30)")
        p.add_argument("--workers", type=int, default=4, help="threads reading and writing files (default 4)")
        p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
        if name == "encode":
            p.add_argument("--pack", action="store_true",
                           help="store codes packed to 13 bits each (the codec's true 1.04 kbit/s) instead of "
                                "16-bit integers")
            p.add_argument("--format", choices=("npz", "arrayrecord"), default="npz",
                           help="npz: one .codes.npz per input (default); arrayrecord: the whole corpus as shards "
                                "OUTPUT/codes-*-of-*.array_record plus OUTPUT/index.json, files sorted by duration, "
                                "for LM training (read them with bigcodec_jax.data.CodesSource)")
            p.add_argument("--shard-seconds", type=float, default=3600.0,
                           help="with --format arrayrecord: seconds of audio per shard (default 3600)")
    return parser


def _output_path(output: str, rel: str, suffix: str) -> str:
    stem = rel[: -len(CODES_SUFFIX)] if rel.endswith(CODES_SUFFIX) else os.path.splitext(rel)[0]
    return os.path.join(output, stem + suffix)


class ShardRecord(NamedTuple):
    """Record `index` of a codes shard directory, as an input of decode."""
    source: CodesSource
    index: int

    def __str__(self) -> str:
        return f"{self.source.path}[{self.index}]"


def _expand(item: str, command: "_Command") -> list[tuple[str | ShardRecord, str]]:
    """(input, name relative to its root) of one command-line input; decode reads codes shard directories."""
    if command.args.command == "decode" and codes_shards.is_shard_directory(item):
        from bigcodec_jax.data.codes_source import CodesSource  # grain: only for shard directories

        source = CodesSource(item, command.fingerprint)
        return [(ShardRecord(source, i), source[i]["id"]) for i in range(len(source))]
    return list(expand_inputs([item], command.extensions))


def _devices(count: int | None) -> list[jax.Device]:
    devices = jax.local_devices()
    if count is not None and not 0 < count <= len(devices):
        raise SystemExit(f"--devices must be in 1..{len(devices)} (local devices: {len(devices)})")
    return devices[:count]


class _Command:
    """How one subcommand sizes, loads, processes and writes its files."""

    def __init__(self, args: argparse.Namespace, batch: BatchCodec):
        self.args, self.batch, self.codec = args, batch, batch.codec
        self.fingerprint = codes_file.fingerprint(self.codec.params)
        self.extensions = (CODES_SUFFIX,) if args.command == "decode" else AUDIO_EXTENSIONS
        self.suffix = CODES_SUFFIX if args.command == "encode" else ".wav"

    def frames(self, path: str | ShardRecord) -> int:
        """Code frames of an input from its header (for grouping); ValueError when unreadable."""
        if isinstance(path, ShardRecord):
            return path.source[path.index]["codes"].shape[-1]
        if self.args.command == "decode":
            return self.codec.num_frames(codes_file.read_length(path))
        samples, rate = audio_length(path)
        return self.codec.num_frames(audio.resampled_length(samples, rate))

    def load(self, job: Job) -> tuple:
        if isinstance(job.source, ShardRecord):
            record = job.source.source[job.source.index]
            codes, length = record["codes"], record["length"]
            self.codec.check_codes(codes[None], length)
            return codes, length
        if self.args.command == "decode":
            codes, length = codes_file.load(job.source, self.fingerprint)
            self.codec.check_codes(codes[None], length)
            return codes, length
        wav, rate = read_audio(job.source)
        return audio.as_batch(wav, rate)[0], rate

    def process(self, items: list[tuple]) -> list:
        if self.args.command == "decode":
            return self.batch.decode_batch([c for c, _ in items], [n for _, n in items])
        wavs = [w for w, _ in items]
        codes = self.batch.encode_batch(wavs)
        if self.args.command == "encode":
            return [(c, len(w), rate) for c, (w, rate) in zip(codes, items)]
        return self.batch.decode_batch(codes, [len(w) for w in wavs])

    def write(self, job: Job, result) -> None:
        if self.args.command == "encode":
            codes, length, rate = result
            write_atomic(job.output, lambda tmp: codes_file.save(tmp, codes, length, rate, self.codec.config,
                                                                 self.fingerprint, packed=self.args.pack))
        else:
            write_atomic(job.output, lambda tmp: sf.write(tmp, result, audio.SAMPLE_RATE, format="WAV"))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    how = distributed.initialize()
    if jax.process_count() > 1:
        print(f"inference.py: {how}", file=sys.stderr)
    codec = BigCodec.from_pretrained(args.checkpoint, dtype=args.dtype)
    batch = BatchCodec(codec, args.batch_size, _devices(args.devices), args.window)
    if args.command == "encode" and args.format == "arrayrecord":
        try:
            return 1 if tokenise.tokenise(args.inputs, args.output, batch, args.shard_seconds, args.workers,
                                          args.overwrite) else 0
        except ValueError as e:
            print(f"inference.py: error: {e}", file=sys.stderr)
            return 1
    command = _Command(args, batch)
    jobs, frames, failed, skipped, outputs = [], [], [], 0, {}
    inputs = []
    for item in args.inputs:
        try:
            inputs += _expand(item, command)
        except ValueError as e:
            if distributed.is_main_process():  # every process saw it: count it once
                failed.append(item)
                print(f"failed: {item}: {e}", file=sys.stderr)
    for path, rel in inputs[jax.process_index()::jax.process_count()]:  # several processes: every N-th input each
        out = _output_path(args.output, rel, command.suffix)
        try:
            if out in outputs:
                raise ValueError(f"its output {out} is also the output of {outputs[out]}")
            outputs[out] = path
            if os.path.exists(out) and not args.overwrite:
                skipped += 1
                continue
            frames.append(command.frames(path))
            jobs.append(Job(path, out))
        except ValueError as e:
            failed.append(path)
            print(f"failed: {path}: {e}", file=sys.stderr)
    seconds = np.array(frames) * codec.hop_length / audio.SAMPLE_RATE
    failures = run_batches(jobs, command.batch.batches(frames), seconds, command.load, command.process,
                           command.write, args.workers, args.command)
    failed += [str(job.source) for job, _ in failures]
    print(f"{args.command}: {len(jobs) - len(failures)} written, {skipped} already done, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else ""))
    # the job's status, on every process once all are done
    return 1 if distributed.sum_over_processes(f"{args.command}_failed", len(failed)) else 0
