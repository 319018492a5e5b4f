"""Data loading throughput: training batches per second from FLAC files, for several worker settings.

Writes `--files` FLACs of `--seconds` each (the packaged speech corpus, concatenated and cut, at
`--sample-rate`) to a temporary folder, or reads `--path`, then times `--batches` batches of
`--batch-size` 1 s crops after the first (start-up) batch.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
import time

import ml_collections
import numpy as np
import soundfile as sf

from bigcodec_jax import data, errors
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.data.corpus import TRAIN_LIST
from bigcodec_jax.data.sources import list_source


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", help="a folder of audio files to read instead of generated ones")
    p.add_argument("--files", type=errors.positive_int, default=200, help="generated files")
    p.add_argument("--seconds", type=errors.positive_seconds, default=12.0,
                   help="length of each generated file (LibriSpeech: 12 s)")
    p.add_argument("--sample-rate", type=errors.positive_int, default=SAMPLE_RATE, help="rate of the generated files")
    p.add_argument("--batch-size", type=errors.positive_int, default=8)
    p.add_argument("--batches", type=errors.positive_int, default=300, help="batches timed after the first")
    p.add_argument("--workers", type=errors.non_negative_int, nargs="+", default=[0, 1, 2],
                   help="decoding processes to try")
    p.add_argument("--read-threads", type=errors.positive_int, nargs="+", default=[1, 4],
                   help="reading threads to try")


def write_flacs(folder: str, files: int, seconds: float, rate: int) -> None:
    """`files` FLACs of `seconds` each, cut from the packaged corpus's speech played back to back."""
    corpus = list_source(os.path.join(data.corpus_dir(), TRAIN_LIST), "corpus")
    speech = np.concatenate([corpus.read(i) for i in range(len(corpus))])
    if rate != SAMPLE_RATE:
        import librosa

        speech = librosa.resample(speech, orig_sr=SAMPLE_RATE, target_sr=rate)
    length = int(seconds * rate)
    speech = np.tile(speech, -(-files * length // len(speech)))
    for i in range(files):
        sf.write(os.path.join(folder, f"{i:05d}.flac"), speech[i * length:(i + 1) * length], rate, subtype="PCM_16")


def batches_per_second(cfg: ml_collections.ConfigDict, batch_size: int, batches: int) -> tuple[float, float]:
    """(seconds to the first batch, batches per second after it)."""
    start = time.perf_counter()
    it = iter(data.train_loader(cfg, batch_size, seed=0, process_index=0, process_count=1))
    next(it)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    rate = batches / (time.perf_counter() - start)
    it.close()
    return first, rate


def run(args: argparse.Namespace) -> None:
    errors.require(args.path is None or os.path.isdir(args.path), f"argument --path: {args.path} is not a folder")
    folder = args.path
    if not folder:
        folder = tempfile.mkdtemp(prefix="bigcodec-data-benchmark-")
        # removed at exit, after the loader's last read-ahead threads have finished with the files
        atexit.register(shutil.rmtree, folder, True)
        write_flacs(folder, args.files, args.seconds, args.sample_rate)
        print(f"data: {args.files} FLACs x {args.seconds:.0f} s at {args.sample_rate} Hz, "
              f"batch {args.batch_size} x 1 s crops, {os.cpu_count()} CPU cores")
    print("workers  read threads  first batch s  batches/s  crops/s")
    for workers in args.workers:
        for threads in args.read_threads:
            cfg = data.default_config()
            cfg.source, cfg.path, cfg.workers, cfg.read_threads = "dir", folder, workers, threads
            first, rate = batches_per_second(cfg, args.batch_size, args.batches)
            print(f"{workers:7d} {threads:13d} {first:14.2f} {rate:10.1f} {rate * args.batch_size:8.0f}", flush=True)
