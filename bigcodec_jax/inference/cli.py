"""`inference.py encode | decode | reconstruct`: audio files <-> codes files <-> 16 kHz wav.

  encode       audio files, folders (searched recursively) or file lists -> one .codes.npz per input,
               or with --format arrayrecord codes shards of a whole corpus for LM training
  decode       .codes.npz files or folders of them, or codes shard directories -> 16 kHz wav
  reconstruct  audio -> codes -> 16 kHz wav (what the official inference.py does)

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
from typing import TYPE_CHECKING, Callable, NamedTuple

import jax
import numpy as np

from bigcodec_jax import audio, compile_cache, distributed, errors
from bigcodec_jax.api import BigCodec
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.inference import tokenise
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.pipeline import WorkItem, run_batches
from bigcodec_jax.io import codes_files, codes_shards, inputs, outputs, paths, staged
from bigcodec_jax.io.audio_files import AUDIO_EXTENSIONS, audio_info, read_audio, write_wav

if TYPE_CHECKING:  # imported (with grain) only when a shard directory is decoded
    from bigcodec_jax.data.codes_source import CodesSource

CODES_SUFFIX = ".codes.npz"
STREAM_FRAMES = 8  # code frames per push with decode --stream (100 ms)


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
                            "(latest step) or a hub id owner/name[@revision] (what BigCodec.from_pretrained reads)")
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


class ShardRecord(NamedTuple):
    """Record `index` of a codes shard directory, as an input of decode."""
    source: CodesSource
    index: int

    def __str__(self) -> str:
        return f"{self.source.path}[{self.index}]"


def _shard_records(directory: str) -> tuple[list[tuple[ShardRecord, str]], list[str]]:
    """(record, its id) of every readable record of a codes shard directory, and the damaged parts (the
    directory, a shard or a record), each named on stderr; the fingerprint is checked against the model's
    once that is loaded (`_foreign_shards`)."""
    from bigcodec_jax.data.codes_source import CodesSource  # grain: only for shard directories

    try:
        source = CodesSource(directory, skip_damaged=True)
    except ValueError as e:
        print(f"failed: {e}", file=sys.stderr)
        return [], [directory]
    failed = []
    for shard, reason in source.damaged:
        print(f"failed: {shard}: {reason}", file=sys.stderr)
        failed.append(shard)
    records = []
    for i in range(len(source)):
        try:
            records.append((ShardRecord(source, i), source[i]["id"]))
        except ValueError as e:
            print(f"failed: {ShardRecord(source, i)}: {e}", file=sys.stderr)
            failed.append(str(ShardRecord(source, i)))
    return records, failed


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
    pretrained.check_source(args.checkpoint)
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


class Subcommand:
    """One subcommand: its options, its inputs and outputs, and how it sizes, loads, processes and writes a file.

    The defaults read audio files and write 16 kHz wav; each subcommand overrides what differs.
    """

    help: str
    input_extensions: tuple[str, ...] = AUDIO_EXTENSIONS
    output_suffix = ".wav"

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        """The subcommand's own options, after the shared ones."""

    @classmethod
    def expand(cls, item: str, output: str) -> tuple[list[tuple], list[str]]:
        """(input, its name relative to the input) of every file an INPUT names, and the damaged parts."""
        return inputs.expand_inputs([item], cls.input_extensions, skip=output), []

    @staticmethod
    def makes_shards(args: argparse.Namespace) -> bool:
        """Whether the run writes codes shards of the whole corpus (`tokenise`) instead of a file per input."""
        return False

    def __init__(self, args: argparse.Namespace, batch: BatchCodec):
        self.args, self.batch, self.codec = args, batch, batch.codec
        self.fingerprint = codes_files.fingerprint(self.codec.params)

    def foreign_inputs(self, failed: list[str]) -> set[str]:
        """The inputs (not `failed` already) whose codes another model made, named on stderr."""
        return set()

    def frames(self, path: str | ShardRecord) -> int:
        """Code frames of an input (for grouping), here from an audio file's header; ValueError when unreadable
        or malformed."""
        samples, rate, _ = audio_info(path)
        return self.codec.num_frames(audio.resampled_length(samples, audio.check_sample_rate(rate)))

    def load(self, job: WorkItem) -> tuple:
        wav, rate = read_audio(job.source)
        return audio.as_batch(wav, rate)[0], rate

    def process(self, items: list[tuple]) -> Callable[[], list]:
        """Start a batch; returns a function that waits for its results (`pipeline.run_batches`)."""
        raise NotImplementedError

    def write(self, job: WorkItem, result) -> None:
        with staged.staged_file(job.output) as tmp:
            write_wav(tmp, result)


class Encode(Subcommand):
    help = "audio files, folders or file lists -> one codes file per input"
    output_suffix = CODES_SUFFIX

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--pack", action="store_true",
                            help="store codes packed to 13 bits each (the codec's true 1.04 kbit/s) instead of "
                                 "16-bit integers")
        parser.add_argument("--format", choices=("npz", "arrayrecord"), default="npz",
                            help="npz: one .codes.npz per input (default); arrayrecord: the whole corpus as shards "
                                 "OUTPUT/codes-*-of-*.array_record plus OUTPUT/index.json, files sorted by "
                                 "duration, for LM training (read them with bigcodec_jax.data.CodesSource)")
        parser.add_argument("--shard-seconds", type=errors.positive_seconds, default=3600.0,
                            help="with --format arrayrecord: seconds of audio per shard (default 3600)")

    @staticmethod
    def makes_shards(args: argparse.Namespace) -> bool:
        return args.format == "arrayrecord"

    def process(self, items: list[tuple]) -> Callable[[], list]:
        codes = self.batch.start_encode([w for w, _ in items])
        return lambda: [(c, len(w), rate) for c, (w, rate) in zip(codes(), items)]

    def write(self, job: WorkItem, result) -> None:
        codes, length, rate = result
        with staged.staged_file(job.output) as tmp:
            codes_files.save(tmp, codes, length, rate, self.codec.config, self.fingerprint, packed=self.args.pack)


class Decode(Subcommand):
    help = "codes files or folders of them -> 16 kHz wav"
    input_extensions = (CODES_SUFFIX,)

    @staticmethod
    def add_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stream", action="store_true",
                            help=f"decode as a stream would, as a check and an example: each batch's codes pushed "
                                 f"{STREAM_FRAMES} frames at a time into BigCodec.stream_decoder, as a language "
                                 "model makes them (the same audio as without --stream)")

    @classmethod
    def expand(cls, item: str, output: str) -> tuple[list[tuple], list[str]]:
        if codes_shards.is_shard_directory(item):
            return _shard_records(item)
        return super().expand(item, output)

    def foreign_inputs(self, failed: list[str]) -> set[str]:
        """The codes shard directories among the inputs whose index names another model's fingerprint."""
        foreign = set()
        for path in self.args.inputs:
            if path not in failed and codes_shards.is_shard_directory(path):
                try:
                    codes_shards.read_index(path, self.fingerprint)
                except ValueError as e:
                    foreign.add(path)
                    print(f"failed: {e}", file=sys.stderr)
        return foreign

    def frames(self, path: str | ShardRecord) -> int:
        """Code frames of a whole checked codes file or shard record."""
        return self.load(WorkItem(path, ""))[0].shape[-1]

    def load(self, job: WorkItem) -> tuple:
        if isinstance(job.source, ShardRecord):
            record = job.source.source[job.source.index]
            self.codec.check_codes(record["codes"][None], record["length"])
            return record["codes"], record["length"]
        codes, length = codes_files.load(job.source, self.fingerprint)
        self.codec.check_codes(codes[None], length)
        return codes, length

    def process(self, items: list[tuple]) -> Callable[[], list]:
        if self.args.stream:
            results = _stream_decode(self.codec, items, self.batch.batch_size)
            return lambda: results
        return self.batch.start_decode([c for c, _ in items], [n for _, n in items])


class Reconstruct(Subcommand):
    help = "audio -> codes -> audio (what the official inference.py does)"

    def process(self, items: list[tuple]) -> Callable[[], list]:
        return self.batch.start_reconstruct([w for w, _ in items])


COMMANDS: dict[str, type[Subcommand]] = {"encode": Encode, "decode": Decode, "reconstruct": Reconstruct}


def _stream_decode(codec: BigCodec, items: list[tuple[np.ndarray, int]], batch_size: int) -> list[np.ndarray]:
    """Codes `(n_q, frames)` and a length per file -> audio `(length,)` per file, through `batch_size` streams
    that advance together (rows past the files stay empty, so every batch runs the same compiled step), the
    codes pushed `STREAM_FRAMES` frames at a time as a language model makes them."""
    frames = np.zeros(batch_size, np.int64)
    frames[:len(items)] = [c.shape[1] for c, _ in items]
    codes = np.zeros((batch_size, codec.num_quantizers, int(frames.max())), np.int32)
    for row, (c, _) in enumerate(items):
        codes[row, :, :c.shape[1]] = c
    stream = codec.stream_decoder(batch_size, block_frames=(STREAM_FRAMES,))
    pieces = [stream.push(codes[:, :, i:i + STREAM_FRAMES], lengths=np.clip(frames - i, 0, STREAM_FRAMES))
              for i in range(0, codes.shape[2], STREAM_FRAMES)]
    wav = np.concatenate(pieces + [stream.flush()], axis=-1)
    return [wav[row, :length] for row, (_, length) in enumerate(items)]


def _batch_codec(args: argparse.Namespace, devices: list[jax.Device]) -> BatchCodec:
    codec = BigCodec.from_pretrained(args.checkpoint, dtype=args.dtype)
    try:
        return BatchCodec(codec, args.batch_size, devices, args.window)
    except ValueError as e:  # only the window can be wrong here: it depends on the model's receptive field
        raise errors.UsageError(f"argument --window: {e}") from None


def _tokenise(args: argparse.Namespace, devices: list[jax.Device]) -> int:
    """`encode --format arrayrecord`: codes shards of the whole corpus, shared by the job's processes."""
    pretrained.check_source(args.checkpoint)
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
