"""train.py, inference.py, evaluate and BigCodec.from_pretrained with every path (the config file too) on gs://,
against the local GCS emulator (tests/gcs_emulator.py, one per session): checkpoints, exact resume past a
half-written checkpoint, TensorBoard events and metrics.jsonl, reruns that skip finished outputs, codes shards,
and (opt-in, see below) a 2-process run. Tiny shapes (tests/run_configs/fast.py); most of the module's time is the
two train.py runs."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from bigcodec_jax import BigCodec, evaluate
from bigcodec_jax.checkpoints import run_dir, store
from bigcodec_jax.data.corpus import DEFAULT_CORPUS_DIR
from bigcodec_jax.inference import cli as inference_cli
from bigcodec_jax.inference.subcommands import CODES_SUFFIX
from bigcodec_jax.io import codes_files, codes_shards, paths, staged
from bigcodec_jax.io.audio_files import read_audio
from bigcodec_jax.training import cli as training_cli
from bigcodec_jax.training.writer import read_metrics
from conftest import GOLDEN_DIR, reference_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 6  # tests/run_configs/fast.py: 6 steps, a checkpoint every 3
AUDIO = ["nested/one.wav", "two.wav", "three.wav"]  # inference and evaluation inputs, copied from the corpus
CONFIG = os.path.join(ROOT, "tests", "run_configs", "fast.py")


@pytest.fixture(scope="module")
def bucket(gcs_emulator, tmp_path_factory):
    """A gs:// prefix holding the corpus's training audio (data/train), three files for inference (audio/) and
    the training config (fast.py)."""
    import gcs_emulator as module

    root = f"gs://{module.BUCKET}/runs-{os.urandom(4).hex()}"
    train = paths.list_files(os.path.join(DEFAULT_CORPUS_DIR, "train"))
    for local, relative in train:
        staged.upload(local, paths.join(root, "data", "train", relative))
    for (local, _), name in zip(train, AUDIO):
        staged.upload(local, paths.join(root, "audio", name))
    staged.upload(CONFIG, paths.join(root, "fast.py"))
    return root


def _train(workdir, data, processes=1, *extra, config=CONFIG):
    """train.py, as a job of `processes` processes (bigcodec_jax.launch, one CPU device each) when more than 1."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")  # and the session's compilation cache (conftest.py)
    launch = [sys.executable, "-m", "bigcodec_jax.launch", "--processes", str(processes), "--"] if processes > 1 else []
    proc = subprocess.run([*launch, sys.executable, "train.py", "--config", config, f"--workdir={workdir}",
                           "--config.data.source=dir", f"--config.data.path={data}", *extra],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout + proc.stderr


def _state(workdir, step):
    """A checkpoint's state as numpy arrays, whatever the topology that wrote it."""
    path = paths.join(workdir, "checkpoints", str(step), "state")
    checkpointer = ocp.StandardCheckpointer()
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                          checkpointer.metadata(path).item_metadata)
    return jax.tree.map(np.asarray, checkpointer.restore(path, target))


@pytest.fixture(scope="module")
def run(bucket):
    """A finished 6-step train.py run with its workdir, data and config file on gs://; (workdir, data)."""
    workdir, data = paths.join(bucket, "run"), paths.join(bucket, "data", "train")
    _train(workdir, data, config=paths.join(bucket, "fast.py"))
    return workdir, data


def _event_files(workdir):
    return [path for path, _ in paths.list_files(paths.join(workdir, "tensorboard"))]


def test_train_on_gs_checkpoints_logs_and_exact_resume_past_a_partial_checkpoint(run):
    workdir, data = run
    assert run_dir.steps(workdir)[-2:] == [3, STEPS]
    assert json.loads(paths.read_text(paths.join(workdir, "config.json")))["data"]["path"] == data
    events = _event_files(workdir)
    assert len(events) == 1 and b"loss/gen" in paths.read_bytes(events[0])  # uploaded whole at the end
    assert [row["step"] for row in read_metrics(workdir)] == list(range(1, STEPS + 1))
    straight = _state(workdir, STEPS)
    assert int(straight["step"]) == STEPS

    # A crash during the save of step 6: its folder has some files but not Orbax's commit marker.
    step_dir = paths.join(workdir, "checkpoints", str(STEPS))
    kept = {relative: paths.read_bytes(path) for path, relative in paths.list_files(step_dir)}
    for path, _ in paths.list_files(step_dir):
        paths.remove(path)
    staged.write_bytes(paths.join(step_dir, "state", "_sharding"), kept["state/_sharding"])
    assert run_dir.steps(workdir)[-1] == 3  # the latest complete checkpoint

    out = _train(workdir, data)  # the local copy of the config: the same run config
    assert "resumed from step 3" in out
    resumed = _state(workdir, STEPS)
    for name, (a, b) in zip(jax.tree_util.tree_leaves_with_path(straight), zip(jax.tree.leaves(straight),
                                                                               jax.tree.leaves(resumed))):
        np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(name[0]))
    events = _event_files(workdir)
    assert len(events) == 2 and all(b"loss/gen" in paths.read_bytes(e) for e in events)  # one file per run
    assert [row["step"] for row in read_metrics(workdir)] == list(range(1, STEPS + 1))  # steps 4-6 once each


@pytest.mark.parametrize("argv, found", [
    (["--config", "gs://b/c.py"], (2, "", "gs://b/c.py", "")),
    (["--config=gs://b/c.py:small"], (1, "--config=", "gs://b/c.py", ":small")),
    (["--config", "configs/c.py:small"], (2, "", "configs/c.py", ":small")),
])
def test_config_file_of_a_url_keeps_its_scheme(argv, found):
    """config_flags' `path:argument` form: the `:` of `gs://` is not where the argument starts."""
    assert tuple(training_cli._config_arg(["train.py", *argv])) == found


def test_inference_encode_gs_to_gs_skips_finished_outputs(run, bucket, capsys):
    workdir = run[0]
    inputs, output = paths.join(bucket, "audio"), paths.join(bucket, "codes")
    args = ["encode", inputs, "--output", output, "--checkpoint", workdir, "--batch-size", "2", "--window", "1"]
    assert inference_cli.main(args) == 0
    assert f"{len(AUDIO)} written, 0 already done, 0 failed" in capsys.readouterr().out
    names = sorted(name[: -len(".wav")] + CODES_SUFFIX for name in AUDIO)
    assert sorted(relative for _, relative in paths.list_files(output)) == names

    codec = BigCodec.from_pretrained(workdir)  # a gs:// run directory, its latest step
    codes, length = codes_files.load(paths.join(output, "nested", "one" + CODES_SUFFIX),
                                     codes_files.fingerprint(codec.params))
    wav, rate = read_audio(paths.join(inputs, AUDIO[0]))
    assert length == len(wav)
    np.testing.assert_array_equal(codes, codec.encode(wav, rate)[0])

    paths.remove(paths.join(output, "two" + CODES_SUFFIX))
    assert inference_cli.main(args) == 0
    assert f"1 written, {len(AUDIO) - 1} already done, 0 failed" in capsys.readouterr().out

    shards = paths.join(bucket, "shards")  # a tokenised corpus: shards and index.json on gs:// too
    assert inference_cli.main([*args[:2], "--output", shards, *args[4:], "--format", "arrayrecord",
                               "--shard-seconds", "4"]) == 0
    index = codes_shards.read_index(shards, codes_files.fingerprint(codec.params))
    assert index["records"] == len(AUDIO) and codes_shards.is_shard_directory(shards)
    assert sorted(relative for _, relative in paths.list_files(shards) if relative.endswith(".array_record")) == \
        sorted(shard["file"] for shard in index["shards"])


def test_evaluate_gs_data_to_gs_report(run, bucket, capsys):
    output = paths.join(bucket, "report")
    assert evaluate.main(["--checkpoint", run[0], "--data", paths.join(bucket, "audio"), "--output", output,
                          "--metrics", "mel_distance", "--examples", "1"]) == 0
    summary = json.loads(paths.read_text(paths.join(output, "metrics.json")))
    assert summary["utterances"] == len(AUDIO) and np.isfinite(summary["means"]["mel_distance"])
    written = {relative for _, relative in paths.list_files(output)}
    assert {"report.html", "metrics.json", "utterances.csv"} <= written
    assert any(relative.startswith("examples/") and relative.endswith(".wav") for relative in written)


def test_from_pretrained_of_gs_checkpoints(gcs_dir):
    local = reference_path("micro.pt")
    want = BigCodec.from_pretrained(local)
    official, converted = paths.join(gcs_dir, "micro.pt"), paths.join(gcs_dir, "converted")
    staged.upload(local, official)
    store.save(converted, want.config, {"generator": want.params})
    wav = np.sin(np.linspace(0, 400, 3200)).astype(np.float32)
    for source in (official, converted):
        got = BigCodec.from_pretrained(source)
        assert got.config.to_dict() == want.config.to_dict()
        for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params)):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(got.encode(wav), want.encode(wav))


def test_family_checkpoints_on_gs_and_a_bucket_encoded_and_decoded(gcs_dir, bucket, capsys):
    """A NeuCodec release file and a converted directory of it, both in a bucket, load as the local file does;
    `inference.py encode` of a gs:// folder with that directory writes the codec's codes to gs://, and `decode`
    writes 24 kHz audio of the recorded length back to gs://."""
    from bigcodec_jax.codec.config import to_json
    from bigcodec_jax.family_api import load_codec
    from bigcodec_jax.xcodec2 import config as family_config

    local = os.path.join(GOLDEN_DIR, "neucodec_micro.bin")
    config = family_config.model_config("neucodec", "micro")
    want = load_codec(local, config=config)
    release, converted = paths.join(gcs_dir, "pytorch_model.bin"), paths.join(gcs_dir, "converted")
    staged.upload(local, release)
    store.save(converted, want.config, {"model": want.params})
    for got in (load_codec(release, config=config), load_codec(converted)):
        assert got.family == "neucodec" and to_json(got.config) == to_json(want.config)
        for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(want.params)):
            np.testing.assert_array_equal(a, b)

    inputs, codes, decoded = paths.join(bucket, "audio"), paths.join(gcs_dir, "codes"), paths.join(gcs_dir, "decoded")
    common = ["--checkpoint", converted, "--batch-size", "2", "--workers", "1"]
    assert inference_cli.main(["encode", inputs, "--output", codes, *common]) == 0
    assert f"{len(AUDIO)} written, 0 already done, 0 failed" in capsys.readouterr().out
    got, length = codes_files.load(paths.join(codes, "two" + CODES_SUFFIX), codes_files.fingerprint(want.params))
    wav, rate = read_audio(paths.join(inputs, "two.wav"))
    np.testing.assert_array_equal(got, want.encode(wav, rate)[0])
    assert inference_cli.main(["decode", codes, "--output", decoded, *common]) == 0
    audio, rate = read_audio(paths.join(decoded, "two.wav"))
    assert rate == 24000 and len(audio) == length


def test_two_processes_train_into_one_gs_workdir(bucket):
    """bigcodec_jax.launch: 2 processes (1 CPU device each) write one Orbax checkpoint into a gs:// workdir;
    process 0 alone writes config.json, metrics.jsonl and the TensorBoard events there."""
    workdir = paths.join(bucket, "two")
    out = _train(workdir, paths.join(bucket, "data", "train"), 2, "--config.num_steps=3")
    assert "[0] train:" in out and "[1] train:" not in out
    assert run_dir.steps(workdir)[-1] == 3
    assert [row["step"] for row in read_metrics(workdir)] == [1, 2, 3]
    assert len(_event_files(workdir)) == 1
    state = _state(workdir, 3)
    assert int(state["step"]) == 3 and all(np.isfinite(x).all() for x in jax.tree.leaves(state)
                                           if np.issubdtype(x.dtype, np.inexact))
