"""`inference.py encode | decode | reconstruct`: audio files <-> codes files <-> wav, with any family's model.

  encode       audio files, folders (searched recursively) or file lists -> one .codes.npz per input,
               or with --format arrayrecord codes shards of a whole corpus for LM training
  decode       .codes.npz files or folders of them, or codes shard directories -> wav
  reconstruct  audio -> codes -> wav (what the official inference.py does)

--checkpoint is a BigCodec, X-Codec2 or NeuCodec model (`family_api.load_codec`); wav is written at the
model's output rate (24 kHz for NeuCodec, else 16 kHz). Codes made by one model are refused by another.

Outputs mirror the input tree under --output. Files are grouped by length into a few padded
sizes and run in batches split over the local devices; files longer than --window run in
chunks, with the same codes and audio as at once. Padding never changes a result. Outputs are
written atomically and skipped when they exist (unless --overwrite), so a rerun resumes an
interrupted run; unreadable, empty or malformed inputs are reported by name and skipped, the
summary counts them and the exit status is 1 when any failed. An output that would overwrite an
input is refused before any work (exit status 2), as are bad options, inputs that do not exist
or hold no files, and an --output that cannot be written; files under --output are never taken
as inputs. Ctrl-C keeps every finished output (exit status 130). Inputs and --output may be local
or gs:// (any fsspec URL): remote outputs are uploaded whole as each is finished, and the outputs
already done are found with one listing of --output. The codes file format (version
2, plain or packed to 13 bits per code) is described in bigcodec_jax/io/codes_files.py, codes
shards in bigcodec_jax/io/codes_shards.py.

Each padded batch size is compiled once (seconds per size at full size on a CPU) and kept in JAX's
persistent compilation cache ($JAX_COMPILATION_CACHE_DIR, else jax-compilation-cache in
$BIGCODEC_CACHE_DIR or ~/.cache/bigcodec-jax), so a rerun over the same sizes starts at once.

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
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from bigcodec_jax import audio, compile_cache, distributed, errors
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.family_api import load_codec
from bigcodec_jax.inference import tokenise
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.pipeline import WorkItem, run_batches
from bigcodec_jax.inference.subcommands import CODES_SUFFIX, COMMANDS, ShardRecord, Subcommand
from bigcodec_jax.io import inputs, outputs, paths


def _parser() -> argparse.ArgumentParser:
    parser = errors.ArgumentParser(prog="inference.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, kind in COMMANDS.items():
        p = sub.add_parser(name, help=kind.help, description=kind.help)
        p.add_argument("inputs", nargs="+", metavar="INPUT",
                       help="files, folders (searched recursively) or file lists (.txt/.lst/.list/.scp, one path "
                            "per line, relative to the list's folder; text after '|' ignored; '#' lines and blank "
                            "lines skipped)")
        p.add_argument("--checkpoint", required=True,
                       help="official .pt/.ckpt, .safetensors, a converted directory, a train.py run directory "
                            "(latest step) or a hub id owner/name[@revision] (what BigCodec.from_pretrained reads); "
                            "or an X-Codec2 / NeuCodec release file or converted directory")
        p.add_argument("--semantic", default=None, help=pretrained.SEMANTIC_HELP)
        p.add_argument("--output", required=True, help="output folder; the input tree is mirrored inside")
        p.add_argument("--batch-size", type=errors.positive_int, default=8,
                       help="files per device batch, rounded up to a multiple of the device count (default 8)")
        p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                       help="compute dtype: float32 reproduces the official model, bfloat16 is faster on "
                            "accelerators (default float32)")
        p.add_argument("--devices", type=errors.positive_int, default=None,
                       help="use the first N local devices, a batch split evenly over them (default: all)")
        p.add_argument("--window", type=errors.positive_seconds, default=30.0,
                       help="seconds: longer files run in chunks of this size, memory independent of their "
                            "length; shorter ones are padded to one of a few sizes up to it (default 30)")
        p.add_argument("--workers", type=errors.positive_int, default=4,
                       help="threads reading and writing files (default 4)")
        p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
        kind.add_options(p)
    return parser


def _output_name(rel: str, suffix: str) -> str:
    """The output's name relative to --output: the input's relative name with `suffix` for its extension."""
    stem = rel[: -len(CODES_SUFFIX)] if rel.endswith(CODES_SUFFIX) else os.path.splitext(rel)[0]
    return stem + suffix


def _devices(count: int | None) -> list[jax.Device]:
    devices = jax.local_devices()
    errors.require(count is None or count <= len(devices),
                   f"argument --devices: must be at most the {len(devices)} local device(s), got {count}")
    return devices[:count]


def _plan(args: argparse.Namespace, kind: type[Subcommand]) -> tuple[list[WorkItem], list[str], int]:
    """(jobs, failed inputs, outputs already done) from the command line, before any model is loaded.

    UsageError for a checkpoint or inputs that do not exist, inputs that hold no files and outputs that would
    overwrite an input.
    """
    pretrained.check_sources(args.checkpoint, args.semantic)
    inputs.check_inputs_exist(args.inputs)
    names, failed = [], []
    for item in args.inputs:
        named, damaged = kind.expand(item, args.output)
        failed += damaged
        names += [(path, _output_name(rel, kind.output_suffix)) for path, rel in named]
    errors.require(bool(names) or bool(failed),
                   f"no input files ({', '.join(kind.input_extensions)}) in {', '.join(args.inputs)}")
    pairs = [(path, paths.join(args.output, name)) for path, name in names]
    outputs.check_no_overwrite((path, out) for path, out in pairs if isinstance(path, str))
    existing = set() if args.overwrite or not paths.isdir(args.output) else {
        name for _, name in paths.list_files(args.output)}  # one listing, not a request per output
    jobs, done, sources = [], 0, {}
    index, count = jax.process_index(), jax.process_count()
    for i, ((path, out), (_, name)) in enumerate(zip(pairs, names)):
        if i % count != index:  # several processes: every N-th input each (all see every output, for clashes)
            sources.setdefault(out, path)
            continue
        if out in sources:
            failed.append(str(path))
            print(f"failed: {path}: its output {out} is also the output of {sources[out]}", file=sys.stderr)
            continue
        sources[out] = path
        if name in existing:
            done += 1
        else:
            jobs.append(WorkItem(path, out))
    return jobs, failed, done


def _batch_codec(args: argparse.Namespace, devices: list[jax.Device]) -> BatchCodec:
    codec = load_codec(args.checkpoint, semantic=args.semantic, dtype=args.dtype)
    try:
        return BatchCodec(codec, args.batch_size, devices, args.window)
    except ValueError as e:  # only the window can be wrong here: it depends on the model's receptive field
        raise errors.UsageError(f"argument --window: {e}") from None


def _tokenise(args: argparse.Namespace, devices: list[jax.Device]) -> int:
    """`encode --format arrayrecord`: codes shards of the whole corpus, shared by the job's processes."""
    pretrained.check_sources(args.checkpoint, args.semantic)
    inputs.check_inputs_exist(args.inputs)
    outputs.prepare_output_dir(args.output)
    batch = _batch_codec(args, devices)
    try:
        failed = tokenise.tokenise(args.inputs, args.output, batch, args.shard_seconds, args.workers, args.overwrite)
    except errors.UsageError:  # an OUTPUT holding another tokenisation
        raise
    except ValueError as e:
        raise errors.Failure(str(e)) from None
    return errors.FAILED if failed else errors.OK


@errors.command(interrupted="every output written so far is complete; rerun the same command to continue")
def main(argv: list[str] | None = None) -> int:
    """The command line."""
    args = _parser().parse_args(argv)
    compile_cache.use_persistent_cache()
    how = distributed.initialize()
    if jax.process_count() > 1:
        print(f"inference.py: {how}", file=sys.stderr)
    devices = _devices(args.devices)
    kind = COMMANDS[args.command]
    if kind.makes_shards(args):
        return _tokenise(args, devices)
    planned, failed, skipped = _plan(args, kind)
    outputs.prepare_output_dir(args.output)
    command = kind(args, _batch_codec(args, devices))
    codec = command.codec
    foreign = command.foreign_inputs(failed)
    failed += sorted(foreign)
    planned = [j for j in planned if not (isinstance(j.source, ShardRecord) and j.source.source.path in foreign)]

    def frames_or_error(job: WorkItem) -> int | ValueError:
        try:
            return command.frames(job.source)
        except ValueError as e:
            return e

    jobs, frames = [], []
    pool = ThreadPoolExecutor(args.workers, thread_name_prefix="size")  # headers (of remote files too) in parallel
    try:
        for job, result in zip(planned, pool.map(frames_or_error, planned)):
            if isinstance(result, ValueError):
                failed.append(str(job.source))
                print(f"failed: {job.source}: {result}", file=sys.stderr)
            else:
                frames.append(result)
                jobs.append(job)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    seconds = np.array(frames) * codec.hop_length / audio.SAMPLE_RATE
    command.batch.fit_ladder(frames)  # the whole run's lengths are known: pad as little as the sizes allow
    failures = run_batches(jobs, command.batch.batches(frames), seconds, command.load, command.process,
                           command.write, args.workers, args.command)
    failed += [str(job.source) for job, _ in failures]
    print(f"{args.command}: {len(jobs) - len(failures)} written, {skipped} already done, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else ""))
    # the job's status, on every process once all are done
    return errors.FAILED if distributed.sum_over_processes(f"{args.command}_failed", len(failed)) else errors.OK
