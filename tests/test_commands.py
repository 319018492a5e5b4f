"""The installed `bigcodec` command (and `python -m bigcodec_jax`, the same thing): every subcommand explains
itself and runs for real as the checkout's script does (real processes, small inputs; reconstruct is
inference.py's program as encode and decode are, tested at length in test_inference_cli.py)."""
import glob
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import commands
from bigcodec_jax.checkpoints import official, torch_zip
from conftest import reference_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIGCODEC = os.path.join(os.path.dirname(sys.executable), "bigcodec")  # the console script pip installed
# What each subcommand's --help must say: words only that program's help has.
HELP_WORDS = {"encode": ["--checkpoint", "--pack"], "decode": ["--checkpoint", "codes"],
              "reconstruct": ["--checkpoint", "--window"], "evaluate": ["--data", "metrics.json", "pesq_wb"],
              "convert": ["--to-safetensors", "--to-torch"], "demo": ["--steps", "report.html"],
              "train": ["--config", "--workdir", "official GAN recipe"], "benchmark": ["infer", "stream", "e2e", "suite"]}


def run(*args, module=False, env=None, timeout=600):
    """`bigcodec ARGS` (or `python -m bigcodec_jax ARGS`) in a new process, from the checkout's parent folder (so
    nothing is imported from the working directory by accident)."""
    command = [sys.executable, "-m", "bigcodec_jax"] if module else [BIGCODEC]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=os.path.dirname(ROOT), env=env)


def test_the_console_script_is_installed():
    assert os.access(BIGCODEC, os.X_OK), f"{BIGCODEC} is missing: pip install -e . installs it"


def test_help_lists_every_command():
    result = run("--help")
    assert result.returncode == 0, result.stderr
    for name, command in commands.COMMANDS.items():
        assert f"  {name} " in result.stdout and command.same_as in result.stdout
    assert "owner/name[@revision]" in result.stdout
    nothing = run()
    assert nothing.returncode == 2 and "usage: bigcodec <command>" in nothing.stderr
    unknown = run("tokenise")
    assert unknown.returncode == 2 and "unknown command 'tokenise'" in unknown.stderr.splitlines()[-1]


@pytest.mark.parametrize("name", list(commands.COMMANDS))
def test_every_command_explains_itself(name):
    assert sorted(HELP_WORDS) == sorted(commands.COMMANDS)
    result = run(name, "--help", module=name in ("decode", "convert", "train"))  # both entry points
    assert result.returncode == 0, result.stderr[-2000:]
    for word in HELP_WORDS[name]:
        assert word in result.stdout, f"{name} --help lacks {word!r}"


def test_encode_and_decode_give_the_official_codes_and_audio(tmp_path):
    golden = np.load(reference_path("official_debug.npz"))
    sf.write(tmp_path / "in.wav", golden["wav"][0], 16000)
    ckpt = reference_path("official_debug.pt")
    encoded = run("encode", tmp_path / "in.wav", "--checkpoint", ckpt, "--output", tmp_path / "codes")
    assert encoded.returncode == 0, encoded.stderr[-2000:]
    with np.load(tmp_path / "codes" / "in.codes.npz") as f:
        np.testing.assert_array_equal(f["codes"], golden["codes"][:, 0])  # (n_q, frames) of the first clip
    decoded = run("decode", tmp_path / "codes", "--checkpoint", ckpt, "--output", tmp_path / "decoded", module=True)
    assert decoded.returncode == 0, decoded.stderr[-2000:]
    audio, rate = sf.read(tmp_path / "decoded" / "in.wav")
    assert rate == 16000
    np.testing.assert_allclose(audio, golden["recon_from_codes"][0], rtol=0, atol=1e-4)  # 16-bit wav


def test_convert_to_safetensors_and_back(tmp_path):
    src = reference_path("official_debug.pt")
    result = run("convert", "--to-safetensors", src, tmp_path / "w.safetensors")
    assert result.returncode == 0 and "wrote" in result.stdout, result.stderr[-2000:]
    back = run("convert", "--to-torch", tmp_path / "w.safetensors", tmp_path / "back.pt", module=True)
    assert back.returncode == 0, back.stderr[-2000:]
    original, restored = torch_zip.load(src), torch_zip.load(tmp_path / "back.pt")
    assert restored.pop(official.CONFIG_KEY)  # the model config, which the official loader ignores
    assert {s: list(sd) for s, sd in original.items()} == {s: list(sd) for s, sd in restored.items()}
    for section, sd in original.items():
        for key, value in sd.items():
            np.testing.assert_array_equal(restored[section][key], value, err_msg=f"{section}.{key}")
    missing = run("convert", tmp_path / "nothing.pt", tmp_path / "out")
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "no such file" in missing.stderr
    assert not (tmp_path / "out").exists()


def test_benchmark_infer_times_the_codec_and_writes_a_profiler_trace(tmp_path):
    """Per-layer time is read from a standard jax.profiler trace (docs/benchmarks.md): one per row, with the
    codec's kernels in it, through the `bigcodec` dispatcher."""
    result = run("benchmark", "infer", "--variant", "tiny_train", "--batch-sizes", "1", "--seconds", "0.5",
                 "--dtypes", "float32", "--repeats", "1", "--trace", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = [line.split() for line in result.stdout.splitlines() if line.startswith("float32 ")]
    assert row[1:3] == ["1", "0.5"] and float(row[5]) > 0, result.stdout  # batch, seconds, both s/s
    (perfetto,) = glob.glob(str(tmp_path / "float32-b1" / "plugins" / "profile" / "*" / "perfetto_trace.json.gz"))
    assert glob.glob(os.path.join(os.path.dirname(perfetto), "*.xplane.pb"))  # what XProf / TensorBoard read
    with gzip.open(perfetto, "rt") as f:
        names = {event.get("name", "") for event in json.load(f)["traceEvents"]}
    assert any("fusion" in name or "convolution" in name for name in names), sorted(names)[:50]


def test_train_and_demo_run_their_own_programs(tmp_path):
    """The programs start and check their input as train.py and the demo do (a real run is tested in
    test_training_run.py and test_demo.py, with the same main functions)."""
    trained = run("train", "--config", os.path.join(ROOT, "tests", "run_configs", "fast.py"), "--workdir", tmp_path,
                  "--config.batch_size=0")
    assert trained.returncode == 2  # a usage error, as train.py
    assert trained.stderr.strip().splitlines()[-1] == "error: config.batch_size: must be a positive integer, got 0"
    missing = run("train", "--workdir", tmp_path)
    assert missing.returncode == 2 and "--config and --workdir are required" in missing.stderr
    demo = run("demo", "--steps", 0, module=True)
    assert demo.returncode == 2 and "--steps: must be a positive integer, got '0'" in demo.stderr
