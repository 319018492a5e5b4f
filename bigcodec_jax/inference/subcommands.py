"""The subcommands of `inference.py` (encode, decode, reconstruct), one class each: its options, its inputs and
outputs, and how it sizes, loads, processes and writes a file; `COMMANDS` names them for the command line
(`inference/cli.py`), which plans the work and runs the batches."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable, NamedTuple

import numpy as np

from bigcodec_jax import audio, errors
from bigcodec_jax.api import BigCodec
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.pipeline import WorkItem
from bigcodec_jax.io import codes_files, codes_shards, inputs, staged
from bigcodec_jax.io.audio_files import AUDIO_EXTENSIONS, audio_info, read_audio, write_wav

if TYPE_CHECKING:  # imported (with grain) only when a shard directory is decoded
    from bigcodec_jax.data.codes_source import CodesSource

CODES_SUFFIX = ".codes.npz"
STREAM_FRAMES = 8  # code frames per push with decode --stream (100 ms)

class ShardRecord(NamedTuple):
    """Record `index` of a codes shard directory, as an input of decode."""
    source: CodesSource
    index: int

    def __str__(self) -> str:
        return f"{self.source.path}[{self.index}]"


def _shard_records(directory: str) -> tuple[list[tuple[ShardRecord, str]], list[str]]:
    """(record, its id) of every readable record of a codes shard directory, and the damaged parts (the
    directory, a shard or a record), each named on stderr; the fingerprint is checked against the model's
    once that is loaded (`Decode.foreign_inputs`)."""
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

class Subcommand:
    """One subcommand: its options, its inputs and outputs, and how it sizes, loads, processes and writes a file.

    The defaults read audio files and write wav at the model's output rate; each subcommand overrides what
    differs. The model is any family's (`BatchCodec` runs a `BigCodec` or an `XCodec2`).
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
        samples = audio.resampled_length(samples, audio.check_sample_rate(rate))
        frames = self.codec.num_frames(samples)
        if frames < 1:  # NeuCodec: under 320 samples at 16 kHz
            raise ValueError(f"{samples} samples at 16 kHz are too short for this {self.codec.family} model")
        return frames

    def load(self, job: WorkItem) -> tuple:
        wav, rate = read_audio(job.source)
        return audio.as_batch(wav, rate)[0], rate

    def process(self, items: list[tuple]) -> Callable[[], list]:
        """Start a batch; returns a function that waits for its results (`pipeline.run_batches`)."""
        raise NotImplementedError

    def write(self, job: WorkItem, result) -> None:
        with staged.staged_file(job.output) as tmp:
            write_wav(tmp, result, self.codec.output_sample_rate)


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
        return lambda: [(c, self.batch.output_length(len(w), c.shape[-1]), rate)
                        for c, (w, rate) in zip(codes(), items)]

    def write(self, job: WorkItem, result) -> None:
        codes, length, rate = result
        with staged.staged_file(job.output) as tmp:
            codes_files.save(tmp, codes, length, rate, self.codec.config, self.fingerprint, packed=self.args.pack)


class Decode(Subcommand):
    help = "codes files or folders of them -> wav at the model's output rate (24 kHz for NeuCodec, else 16 kHz)"
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

    def __init__(self, args: argparse.Namespace, batch: BatchCodec):
        super().__init__(args, batch)
        errors.require(not args.stream or hasattr(self.codec, "stream_decoder"),
                       f"argument --stream: a {self.codec.family} model has no stream decoder")

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

