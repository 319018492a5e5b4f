"""gs:// against a local disk, on the test GCS emulator (tests/gcs_emulator.py): Orbax checkpoint saves and
inference.py encode, interleaved repetition by repetition in one process (docs/benchmarks.md).

    python tests/scripts/gcs_benchmark.py [--repeats 3] [--megabytes 16 256]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--megabytes", type=int, nargs="+", default=[16, 256])
    parser.add_argument("--checkpoint", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                                            "reference", "tiny_train.pt"))
    args = parser.parse_args()
    emulator = gcs_emulator.Emulator()
    os.environ.update(emulator.env)
    from bigcodec_jax import paths
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

            audio = os.path.join(DEFAULT_CORPUS_DIR, "train")
            files = paths.list_files(audio)
            for local, relative in files:
                paths.upload(local, paths.join(remote, "audio", relative))
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
