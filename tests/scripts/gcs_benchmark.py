"""gs:// against a local disk, on the test GCS emulator (tests/gcs_emulator.py): Orbax checkpoint saves,
inference.py encode and reading a codes shard directory (CodesSource: cold cache, warm cache, local), interleaved
repetition by repetition in one process (docs/benchmarks.md).

    python tests/scripts/gcs_benchmark.py [--repeats 3] [--megabytes 16 256] [--shard-hours 20]

Prints one JSON line per measurement. The emulator serves from memory on 127.0.0.1, so this measures the
client side (gcsfs, TensorStore, uploads of whole files), not a real bucket's latency or bandwidth.
"""
import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gcs_emulator  # noqa: E402


def _tree(megabytes: int):
    import numpy as np

    rng = np.random.default_rng(0)
    count = 64  # a checkpoint holds many arrays; OCDBT packs them into few objects
    return {f"w{i}": rng.standard_normal(megabytes * 2**20 // 4 // count, dtype=np.float32) for i in range(count)}


def _save_seconds(path: str, tree) -> float:
    import orbax.checkpoint as ocp

    checkpointer = ocp.StandardCheckpointer()
    start = time.perf_counter()
    checkpointer.save(path, tree)
    checkpointer.wait_until_finished()
    return time.perf_counter() - start


def _encode_seconds(inputs: str, output: str, checkpoint: str) -> float:
    from bigcodec_jax.inference import cli

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = cli.main(["encode", inputs, "--output", output, "--checkpoint", checkpoint, "--batch-size", "8"])
    assert status == 0, status
    return time.perf_counter() - start


def _shard_dir(folder: str, hours: int) -> int:
    """A synthetic codes shard directory as `encode --format arrayrecord` writes it: an hour of 12 s utterances
    (1 x 960 codes each) per shard; returns the record count."""
    import numpy as np
    from array_record.python.array_record_module import ArrayRecordWriter

    from bigcodec_jax.io import codes_shards, paths, staged

    rng, per_shard, frames = np.random.default_rng(0), 300, 960
    os.makedirs(folder)
    shards = []
    for i in range(hours):
        name = codes_shards.shard_name(i, hours)
        writer = ArrayRecordWriter(os.path.join(folder, name), "group_size:1")
        for j in range(per_shard):
            writer.write(codes_shards.encode_record(f"{i}/{j}.flac", rng.integers(0, 8192, (1, frames)),
                                                    frames * 200, 16000))
        writer.close()
        shards.append({"file": name, "records": per_shard, "frames": per_shard * frames, "seconds": 3600.0})
    with open(os.path.join(folder, codes_shards.INDEX_FILE), "w") as f:
        json.dump({"format": codes_shards.FORMAT, "format_version": codes_shards.FORMAT_VERSION, "config": {},
                   "fingerprint": "0" * 16, "shards": shards, "records": hours * per_shard,
                   "frames": hours * per_shard * frames, "seconds": hours * 3600.0, "failed": []}, f)
    return hours * per_shard


def _read_seconds(path: str, cache: str) -> tuple[float, float]:
    """(seconds to open a CodesSource, then to read every record in a shuffled order)."""
    import numpy as np

    from bigcodec_jax.data import CodesSource

    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        source = CodesSource(path, cache=cache)
    opened = time.perf_counter()
    for i in np.random.default_rng(0).permutation(len(source)):
        source[int(i)]
    return opened - start, time.perf_counter() - opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--megabytes", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--shard-hours", type=int, default=20, help="hours of audio (shards) in the shard directory")
    parser.add_argument("--checkpoint", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                                            "reference", "tiny_train.pt"))
    args = parser.parse_args()
    emulator = gcs_emulator.Emulator()
    os.environ.update(emulator.env)
    from bigcodec_jax.io import codes_shards, paths, staged
    from bigcodec_jax.data.corpus import DEFAULT_CORPUS_DIR

    print(json.dumps({"load_average": os.getloadavg()}))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            remote = f"gs://{gcs_emulator.BUCKET}/bench"
            for megabytes in args.megabytes:
                tree = _tree(megabytes)
                for repeat in range(args.repeats):
                    for where, root in (("local", tmp), ("gs", remote)):
                        seconds = _save_seconds(paths.join(root, f"ckpt-{megabytes}-{repeat}"), tree)
                        print(json.dumps({"checkpoint_save": where, "megabytes": megabytes, "repeat": repeat,
                                          "seconds": round(seconds, 3)}), flush=True)

            shards = os.path.join(tmp, "shards")
            records = _shard_dir(shards, args.shard_hours)
            for local, relative in paths.list_files(shards):
                staged.upload(local, paths.join(remote, "shards", relative))
            megabytes = sum(os.path.getsize(p) for p, _ in paths.list_files(shards)) / 1e6
            for repeat in range(args.repeats):
                cache = os.path.join(tmp, f"cache-{repeat}")
                for where, path in (("gs, cold cache", paths.join(remote, "shards")),
                                    ("gs, warm cache", paths.join(remote, "shards")), ("local", shards)):
                    opened, read = _read_seconds(path, cache)
                    print(json.dumps({"codes_shards": where, "shards": args.shard_hours, "records": records,
                                      "megabytes": round(megabytes, 1), "repeat": repeat, "open_s": round(opened, 3),
                                      "read_all_s": round(read, 3)}), flush=True)

            audio = os.path.join(DEFAULT_CORPUS_DIR, "train")
            files = paths.list_files(audio)
            for local, relative in files:
                staged.upload(local, paths.join(remote, "audio", relative))
            _encode_seconds(audio, os.path.join(tmp, "warmup"), args.checkpoint)  # compiles every shape once
            for repeat in range(args.repeats):
                for where, root, inputs in (("local", tmp, audio), ("gs", remote, paths.join(remote, "audio"))):
                    seconds = _encode_seconds(inputs, paths.join(root, f"codes-{repeat}"), args.checkpoint)
                    print(json.dumps({"encode": where, "files": len(files), "repeat": repeat,
                                      "seconds": round(seconds, 2), "files_per_s": round(len(files) / seconds, 2)}),
                          flush=True)
    finally:
        emulator.stop()
    print(json.dumps({"load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
