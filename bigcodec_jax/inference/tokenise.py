"""Tokenising a corpus into codes shards on any number of processes (`inference.py encode --format arrayrecord`).

1. Manifest. Every process lists the inputs (the same sorted list) and reads the headers of its share
   (every N-th file) on threads; process 0 merges the shares into OUTPUT/progress/manifest.json: the
   readable files sorted by 16 kHz length (then id), and the unreadable ones with the reason. A
   rerun reuses it, and refuses (a UsageError, exit status 2) when the inputs, the weights or
   --shard-seconds changed.
2. Shards. The sorted files are cut into shards of about `shard_seconds` of audio; shard i belongs
   to process i mod N, which encodes it on its own devices (`BatchCodec`, no communication between
   processes) and writes it atomically: its summary (counts, failed inputs) to OUTPUT/progress/,
   then the shard under a hidden name renamed into place. A shard that exists is skipped, so a
   rerun finishes what a killed process left and loses nothing but the shards being written.
3. Index. Once every process is done (a barrier), process 0 writes OUTPUT/index.json from the
   summaries; every process then reports the same totals and returns the same failure count.

The shards depend only on the inputs, the weights and `shard_seconds`: not on the number of
processes or devices (codes of a file do not depend on its batch, see `BatchCodec`).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import jax
import numpy as np
from array_record.python.array_record_module import ArrayRecordWriter

from bigcodec_jax import audio, distributed
from bigcodec_jax.errors import UsageError
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.pipeline import WorkItem, run_batches
from bigcodec_jax.io import codes_files, codes_shards, paths, staged
from bigcodec_jax.io.audio_files import AUDIO_EXTENSIONS, audio_info, read_audio
from bigcodec_jax.io.inputs import expand_inputs

PROGRESS_DIR = "progress"
MANIFEST_FILE = "manifest.json"


@dataclasses.dataclass(frozen=True)
class CorpusFile:
    """One audio file of the corpus, as the manifest records it from its header."""

    path: str
    id: str          # the path relative to its input root
    length: int      # samples at 16 kHz, from the header
    sample_rate: int


def _atomic_json(path: str, value: Any) -> None:
    staged.write_text(path, json.dumps(value))


def _read_json(path: str) -> Any:
    return json.loads(paths.read_text(path))


def _header(path: str, record_id: str) -> CorpusFile | str:
    """The file's entry, or the reason it cannot be read."""
    try:
        samples, rate, _ = audio_info(path)
        return CorpusFile(path, record_id, audio.resampled_length(samples, audio.check_sample_rate(rate)), rate)
    except ValueError as e:
        return str(e)


def _inputs_digest(pairs: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256()
    for path, record_id in pairs:
        digest.update(f"{path}\0{record_id}\n".encode())
    return digest.hexdigest()


class Tokeniser:
    """One process's part of tokenising `inputs` into OUTPUT (see the module docstring)."""

    def __init__(self, batch: BatchCodec, output: str, shard_seconds: float, workers: int):
        codec = batch.codec
        if codec.codebook_size > codes_shards.MAX_CODEBOOK_SIZE:
            raise ValueError(f"--format arrayrecord stores codes as 16-bit integers; this codebook has "
                             f"{codec.codebook_size} entries")
        if not shard_seconds > 0:
            raise ValueError(f"--shard-seconds must be positive, got {shard_seconds}")
        self.batch, self.codec, self.output = batch, codec, output
        self.shard_seconds, self.workers = shard_seconds, workers
        self.fingerprint = codes_files.fingerprint(codec.params)
        self.progress = paths.join(output, PROGRESS_DIR)
        self.index, self.count = jax.process_index(), jax.process_count()

    # 1. the manifest
    def manifest(self, inputs: list[str]) -> dict[str, Any]:
        """The corpus's manifest (built now by all processes together, or read from an earlier run)."""
        pairs = list(expand_inputs(inputs, AUDIO_EXTENSIONS, skip=self.output))
        path = paths.join(self.progress, MANIFEST_FILE)
        if not paths.exists(path):
            own = pairs[self.index::self.count]
            with ThreadPoolExecutor(self.workers) as pool:
                headers = list(pool.map(lambda pair: _header(*pair), own))
            part = paths.join(self.progress, f"headers-{self.index}-of-{self.count}.json")
            _atomic_json(part, [h if isinstance(h, str) else dataclasses.astuple(h) for h in headers])
            distributed.barrier("bigcodec_tokenise_headers")
            if self.index == 0:
                self._merge_headers(pairs, path)
            distributed.barrier("bigcodec_tokenise_manifest")
        manifest = _read_json(path)
        for key, value, flag in (("fingerprint", self.fingerprint, "--checkpoint"),
                                 ("shard_seconds", self.shard_seconds, "--shard-seconds"),
                                 ("inputs", _inputs_digest(pairs), "the inputs")):
            if manifest[key] != value:
                raise UsageError(f"{self.output} holds a tokenisation with other {flag} ({key} {manifest[key]!r}, "
                                 f"now {value!r}); use another --output, or --overwrite to start again")
        return manifest

    def _merge_headers(self, pairs: list[tuple[str, str]], path: str) -> None:
        """Process 0: all processes' headers -> the manifest (sorted by length, then id)."""
        headers: list = [None] * len(pairs)
        for p in range(self.count):
            part = paths.join(self.progress, f"headers-{p}-of-{self.count}.json")
            headers[p::self.count] = _read_json(part)
            paths.remove(part)
        entries, failed, owners = [], [], {}
        for (source, record_id), header in zip(pairs, headers):
            if isinstance(header, str):
                failed.append({"input": source, "reason": header})
            elif record_id in owners:
                failed.append({"input": source, "reason": f"its id {record_id!r} is also the id of {owners[record_id]}"})
            else:
                owners[record_id] = source
                entries.append(header)
        entries.sort(key=lambda e: (e[2], e[1]))
        _atomic_json(path, {"fingerprint": self.fingerprint, "shard_seconds": self.shard_seconds,
                            "inputs": _inputs_digest(pairs), "entries": entries, "failed": failed})

    # 2. the shards
    def split(self, manifest: dict[str, Any]) -> list[list[CorpusFile]]:
        """The manifest's files cut into consecutive shards of about `shard_seconds` of audio."""
        limit = self.shard_seconds * audio.SAMPLE_RATE
        shards: list[list[CorpusFile]] = []
        size = 0
        for entry in map(lambda e: CorpusFile(*e), manifest["entries"]):
            if not shards or (shards[-1] and size + entry.length > limit):
                shards.append([])
                size = 0
            shards[-1].append(entry)
            size += entry.length
        return shards

    def _shard_paths(self, i: int, count: int) -> tuple[str, str]:
        name = codes_shards.shard_name(i, count)
        return paths.join(self.output, name), paths.join(self.progress, name + ".json")

    def encode_shards(self, shards: list[list[CorpusFile]]) -> tuple[int, int]:
        """Encode and write this process's shards that do not exist yet; (written now, already done)."""
        mine = range(self.index, len(shards), self.count)
        todo = [i for i in mine if not all(map(paths.exists, self._shard_paths(i, len(shards))))]
        for n, i in enumerate(todo):
            self._encode_shard(i, len(shards), shards[i], f"shard {i} ({n + 1}/{len(todo)})")
        return len(todo), len(mine) - len(todo)

    def _encode_shard(self, i: int, count: int, entries: list[CorpusFile], desc: str) -> None:
        results: dict[int, tuple[np.ndarray, int, int]] = {}
        jobs = [WorkItem(e.path, e.id) for e in entries]
        frames = [self.codec.num_frames(e.length) for e in entries]

        def load(job: WorkItem) -> tuple[np.ndarray, int]:
            wav, rate = read_audio(job.source)
            return audio.as_batch(wav, rate)[0], rate

        def process(items: list[tuple[np.ndarray, int]]) -> Callable[[], list[tuple[np.ndarray, int, int]]]:
            codes = self.batch.start_encode([wav for wav, _ in items])
            return lambda: [(c, self.batch.output_length(len(wav), c.shape[-1]), rate)
                            for c, (wav, rate) in zip(codes(), items)]

        positions = {job: n for n, job in enumerate(jobs)}
        failures = run_batches(jobs, self.batch.batches(frames), [e.length / audio.SAMPLE_RATE for e in entries],
                               load, process, lambda job, result: results.__setitem__(positions[job], result),
                               self.workers, desc)
        records = [codes_shards.encode_record(entries[n].id, *results[n]) for n in sorted(results)]
        shard, summary = self._shard_paths(i, count)
        _atomic_json(summary, {
            "file": paths.name(shard), "records": len(records),
            "frames": int(sum(results[n][0].shape[-1] for n in results)),
            "seconds": sum(results[n][1] for n in results) / self.codec.output_sample_rate,
            "failed": [{"input": job.source, "reason": reason} for job, reason in failures]})

        with staged.staged_file(shard) as tmp:
            writer = ArrayRecordWriter(tmp, "group_size:1")  # one record per chunk: fast random access
            for record in records:
                writer.write(record)
            writer.close()

    # 3. the index
    def write_index(self, count: int, manifest: dict[str, Any]) -> None:
        """Process 0, once every shard exists: OUTPUT/index.json."""
        summaries = []
        for i in range(count):
            shard, summary = self._shard_paths(i, count)
            if not paths.exists(shard):
                raise RuntimeError(f"{shard} is missing although every process has finished")
            summaries.append(_read_json(summary))
        failed = manifest["failed"] + [f for s in summaries for f in s["failed"]]
        _atomic_json(paths.join(self.output, codes_shards.INDEX_FILE), {
            "format": codes_shards.FORMAT, "format_version": codes_shards.FORMAT_VERSION,
            **codes_shards.model_fields(self.codec.config), "fingerprint": self.fingerprint,
            "shards": [{k: s[k] for k in ("file", "records", "frames", "seconds")} for s in summaries],
            "records": sum(s["records"] for s in summaries), "frames": sum(s["frames"] for s in summaries),
            "seconds": sum(s["seconds"] for s in summaries), "failed": failed})

    def clear(self) -> None:
        """Process 0: remove an earlier tokenisation in OUTPUT (--overwrite)."""
        names = paths.listdir(self.output) if paths.isdir(self.output) else []
        for name in fnmatch.filter(names, "codes-*-of-*.array_record") + [codes_shards.INDEX_FILE]:
            paths.remove(paths.join(self.output, name))
        paths.remove_folder(self.progress)


def tokenise(inputs: list[str], output: str, batch: BatchCodec, shard_seconds: float, workers: int,
             overwrite: bool) -> int:
    """Run this process's part of the job and return the job's number of failed inputs (the same on every
    process); process 0 prints the summary."""
    tokeniser = Tokeniser(batch, output, shard_seconds, workers)
    if overwrite and tokeniser.index == 0:
        tokeniser.clear()
    distributed.barrier("bigcodec_tokenise_start")
    manifest = tokeniser.manifest(inputs)
    shards = tokeniser.split(manifest)
    written, done = tokeniser.encode_shards(shards)
    distributed.barrier("bigcodec_tokenise_shards")
    if tokeniser.index == 0:
        tokeniser.write_index(len(shards), manifest)
    distributed.barrier("bigcodec_tokenise_index")
    index = codes_shards.read_index(output)
    failed = index["failed"]
    if tokeniser.count > 1:
        print(f"encode: process {tokeniser.index} wrote {written} shards, {done} of its shards were done before")
    if tokeniser.index == 0:
        for f in failed:
            print(f"failed: {f['input']}: {f['reason']}", file=sys.stderr)
        print(f"encode: {index['records']} records ({index['seconds']:.1f} s of audio) in {len(shards)} shards, "
              f"{len(failed)} failed" + (f" ({', '.join(f['input'] for f in failed)})" if failed else "")
              + (f"; {written} shards written now, {done} were done before" if tokeniser.count == 1 else "")
              + f"; index: {paths.join(output, codes_shards.INDEX_FILE)}")
    return len(failed)
