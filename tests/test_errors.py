"""Bad input never costs data, never shows a traceback, never gives a silent wrong answer (issue 13).

Each test reproduces one probe of the issue: the commands run in-process through `main(argv)` (the
status they return is the process's exit status), plus a few real processes (Ctrl-C, train.py's flags).
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import orbax.checkpoint as ocp
import pytest
import soundfile as sf

from bigcodec_jax import BigCodec, audio, errors
from bigcodec_jax import convert as convert_cli
from bigcodec_jax import demo
from bigcodec_jax import evaluate as evaluate_cli
from bigcodec_jax.benchmark.__main__ import main as benchmark_main
from bigcodec_jax.checkpoints import pretrained, run_dir, store
from bigcodec_jax.inference import cli as inference_cli
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.io import codes_files, inputs, outputs, staged
from bigcodec_jax.training import trainer
from conftest import COMMITTED_SET, read_until, reference_path
from run_configs.fast import get_config as fast_train_config
from fast_codec import save_fast_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = reference_path(COMMITTED_SET + ".pt")  # the committed golden set: runs in any clone
ENV = dict(os.environ, JAX_PLATFORMS="cpu")


def one_line_error(err: str, *words: str) -> str:
    """The single `error: ...` line of a command's stderr, checked to be the only line and to hold `words`."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def no_model(monkeypatch):
    """Loading any checkpoint fails the test: the command must stop before it (it would exit 70)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the command line was checked")

    monkeypatch.setattr(pretrained, "load", refuse)


@pytest.fixture
def recordings(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, samples in (("a.wav", 3000), ("b.wav", 2000)):
        sf.write(folder / name, (0.1 * rng.standard_normal(samples)).astype(np.float32), 16000)
    return folder


def _contents(folder):
    return {p: open(os.path.join(folder, p), "rb").read() for p in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def fast_checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fast") / "converted")
    codec = save_fast_checkpoint(path)
    return path, codec


FAST_ARGS = ["--batch-size", "1", "--window", "1"]


# ----------------------------------------------------------------------------------------- data loss

@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("through_link", [False, True])
def test_an_output_that_is_an_input_is_refused_before_any_work(recordings, tmp_path, capsys, no_model,
                                                               overwrite, through_link):
    before = _contents(recordings)
    output = str(recordings)
    if through_link:
        os.symlink(recordings, tmp_path / "link")
        output = str(tmp_path / "link")
    argv = ["reconstruct", str(recordings), "--output", output, "--checkpoint", TINY] + ["--overwrite"] * overwrite
    assert inference_cli.main(argv) == errors.USAGE
    one_line_error(capsys.readouterr().err, "would overwrite the input", "a.wav", "choose another --output")
    assert _contents(recordings) == before


def test_outputs_inside_an_input_folder_are_not_read_back_as_inputs(recordings):
    (recordings / "rec").mkdir()
    sf.write(recordings / "rec" / "a.wav", np.zeros(100, np.float32), 16000)  # a previous run's output
    found = [rel for _, rel in inputs.expand_inputs([str(recordings)], (".wav",), skip=str(recordings / "rec"))]
    assert found == ["a.wav", "b.wav"]
    found = [rel for _, rel in inputs.expand_inputs([str(recordings)], (".wav",), skip=str(recordings))]
    assert found == ["a.wav", "b.wav", os.path.join("rec", "a.wav")]  # --output = the input: checked, not hidden


def test_conversion_never_deletes_what_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "out" / "params"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):  # not even with --overwrite: params/ is not a conversion
        assert convert_cli.main([TINY, str(tmp_path / "out"), *extra]) == errors.USAGE
        one_line_error(capsys.readouterr().err, "params")
    assert (mine / "notes.txt").read_text() == "mine"


def test_conversion_replaces_a_conversion_only_with_overwrite(tmp_path, capsys):
    out = str(tmp_path / "converted")
    assert convert_cli.main([TINY, out]) == errors.OK
    first = os.path.getmtime(os.path.join(out, store.CONFIG_FILE))
    capsys.readouterr()
    assert convert_cli.main([TINY, out]) == errors.USAGE
    one_line_error(capsys.readouterr().err, "--overwrite")
    assert convert_cli.main([TINY, out, "--overwrite"]) == errors.OK
    assert os.path.getmtime(os.path.join(out, store.CONFIG_FILE)) >= first
    assert not [n for n in os.listdir(out) if n.startswith(".partial")]
    config, params = store.load(out)
    assert config.decoder.codebook_size == 256 and "generator" in params


def test_export_never_replaces_its_input_or_an_existing_file(tmp_path, capsys):
    copy = tmp_path / "model.pt"
    shutil.copy(TINY, copy)
    before = copy.read_bytes()
    for argv in ([str(copy), str(copy), "--to-torch", "--overwrite"],                  # onto the input
                 [str(copy), str(tmp_path / "link.pt"), "--to-torch", "--overwrite"],  # onto it through a link
                 [TINY, str(copy), "--to-torch"]):                                     # an existing file
        if "link.pt" in argv[1] and not os.path.lexists(argv[1]):
            os.symlink(copy, argv[1])
        assert convert_cli.main(argv) == errors.USAGE
        one_line_error(capsys.readouterr().err, str(copy) if argv[0] == str(copy) else "--overwrite")
    assert copy.read_bytes() == before


def _fake_run(workdir, config):
    """A run directory as train.py leaves it: config.json and one complete (tiny) checkpoint."""
    os.makedirs(workdir)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(json.dumps(config.to_dict(), indent=1, sort_keys=True))
    manager = ocp.CheckpointManager(os.path.join(workdir, "checkpoints"))
    manager.save(3, args=ocp.args.Composite(state=ocp.args.StandardSave({"step": np.int32(3)})))
    manager.wait_until_finished()
    manager.close()


def test_a_resume_with_another_config_is_refused_and_the_record_kept(tmp_path, capsys):
    workdir = str(tmp_path / "run")
    _fake_run(workdir, fast_train_config())
    recorded = open(os.path.join(workdir, "config.json")).read()
    changed = fast_train_config()
    changed.model.encoder.ngf = 8
    changed.seed = 7
    with pytest.raises(errors.UsageError) as info:
        trainer.train(changed, workdir)  # refused before any model is built or anything written
    message = str(info.value)
    assert "model.encoder.ngf: 4 in the run, 8 now" in message and "seed: 1024 in the run, 7 now" in message
    assert "new --workdir" in message and "num_steps" in message
    assert open(os.path.join(workdir, "config.json")).read() == recorded


def test_a_resume_may_change_the_length_logging_and_layout(tmp_path):
    workdir = str(tmp_path / "run")
    _fake_run(workdir, fast_train_config())
    longer = fast_train_config()
    longer.num_steps, longer.schedule.decay_steps = 1000, 1000
    longer.log_every_steps, longer.checkpoint.every_steps, longer.mesh.data = 7, 50, 1
    longer.data.eval.max_utterances = 1
    assert run_dir.config_differences(fast_train_config().to_dict(), longer.to_dict()) == []
    run_dir.record_config(longer, workdir)  # accepted, and recorded
    assert json.load(open(os.path.join(workdir, "config.json")))["num_steps"] == 1000


def test_train_py_refuses_a_resume_with_another_config_in_one_line(tmp_path):
    workdir = str(tmp_path / "run")
    _fake_run(workdir, fast_train_config())
    recorded = open(os.path.join(workdir, "config.json")).read()
    result = subprocess.run([sys.executable, "train.py", "--config", "tests/run_configs/fast.py", f"--workdir={workdir}",
                             "--config.model.encoder.ngf=8"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == errors.USAGE
    one_line_error(result.stderr, "model.encoder.ngf: 4 in the run, 8 now")
    assert open(os.path.join(workdir, "config.json")).read() == recorded


# ------------------------------------------------------------- bad files are named, skipped, counted

def _codes_fields(codec, folder, packed=False, frames=3):
    """The fields of a valid codes file of `codec`, as a dict (to be spoiled one at a time)."""
    path = os.path.join(folder, ".valid.npz")
    codes = np.random.default_rng(frames).integers(0, codec.codebook_size, (codec.num_quantizers, frames))
    codes_files.save(path, codes, frames * codec.hop_length - 17, 22050, codec.config,
                     codes_files.fingerprint(codec.params), packed=packed)
    with np.load(path) as data:
        fields = {name: data[name] for name in data.files}
    os.unlink(path)
    return fields


BAD_CODES = {  # name -> (change to a valid file's fields, words the failure names)
    "no_length": (lambda f: f.pop("length"), "'length' is missing"),
    "no_codes": (lambda f: f.pop("codes"), "exactly one of the fields 'codes' and 'packed_codes'"),
    "float_codes": (lambda f: f.update(codes=f["codes"] + 0.5), "'codes' must be a 2-D integer array"),
    "float_length": (lambda f: f.update(length=3.7), "'length' must be an integer, got 3.7"),
    "codes_out_of_range": (lambda f: f.update(codes=f["codes"] + 1000), "outside [0, 256)"),
    "length_too_long": (lambda f: f.update(length=10 ** 6), "more than the"),
    "bad_config": (lambda f: f.update(config="{not json"), "'config' is not a BigCodec, X-Codec2 or NeuCodec model config"),
}


def test_bad_codes_files_are_named_skipped_and_counted(fast_checkpoint, tmp_path, capsys):
    checkpoint, codec = fast_checkpoint
    folder = tmp_path / "codes"
    folder.mkdir()
    np.savez(folder / "good.codes.npz", **_codes_fields(codec, tmp_path))
    for name, (spoil, _) in BAD_CODES.items():
        fields = _codes_fields(codec, tmp_path)
        spoil(fields)
        np.savez(folder / f"{name}.codes.npz", **fields)
    packed = _codes_fields(codec, tmp_path, packed=True)
    packed["code_bits"] = np.int64(0)  # decoded to all-zero codes before
    np.savez(folder / "zero_bits.codes.npz", **packed)
    (folder / "junk.codes.npz").write_bytes(b"PK\x03\x04 not really a zip")
    status = inference_cli.main(["decode", str(folder), "--output", str(tmp_path / "dec"), "--checkpoint",
                                 checkpoint, *FAST_ARGS])
    out, err = capsys.readouterr()
    assert status == errors.FAILED and "Traceback" not in err
    bad = len(BAD_CODES) + 2
    assert f"decode: 1 written, 0 already done, {bad} failed" in out
    for name, (_, words) in BAD_CODES.items():
        line = next(line for line in err.splitlines() if f"{name}.codes.npz" in line)
        assert line.startswith("failed: ") and words in line, line
    assert "'code_bits' must be positive, got 0" in err and "not a codes file" in err
    wav, rate = sf.read(tmp_path / "dec" / "good.wav")
    assert rate == 16000 and len(wav) == 3 * 200 - 17


# ------------------------------------------------------------------------ silent wrong results: API

@pytest.fixture(scope="module")
def tiny():
    return BigCodec.from_pretrained(TINY)


def test_channels_last_stereo_is_refused_with_how_to_pass_a_batch(tiny):
    with pytest.raises(ValueError, match=r"looks like \(samples, channels\).*\(batch, samples\)"):
        tiny.encode(np.zeros((16000, 2), np.float32))


@pytest.mark.parametrize("rate, words", [(16, "in Hz: 16000, not 16"), (True, "whole number"),
                                         (16000.5, "whole number"), (0, "from 1000"), ("16000", "whole number"),
                                         (10 ** 9, "to 1000000")])
def test_implausible_sample_rates_are_refused_at_once(tiny, rate, words):
    start = time.perf_counter()
    with pytest.raises(ValueError, match="sample_rate") as info:
        tiny.encode(np.zeros(16000, np.float32), sample_rate=rate)
    assert words in str(info.value) and time.perf_counter() - start < 1.0


def test_whole_number_rates_and_lengths_are_accepted_in_any_type():
    assert audio.check_sample_rate(np.int64(16000)) == audio.check_sample_rate(16000.0) == 16000
    assert audio.whole_number(np.array(7), "length") == 7


def test_audio_far_outside_the_unit_range_is_refused(tiny):
    with pytest.raises(ValueError, match="peaks at 1e\\+06, far outside \\[-1, 1\\].*32768"):
        tiny.encode(np.full(4000, 1e6, np.float32))
    assert tiny.encode(np.full(4000, 1.5, np.float32)).shape == (1, 2, 20)  # a little over full scale passes


@pytest.mark.parametrize("length", [1000.7, True, "1000", None])
def test_non_integer_lengths_are_refused(tiny, length):
    codes = np.zeros((1, 2, 10), np.int32)
    if length is None:
        with pytest.raises(ValueError, match="batch and frames > 0"):
            tiny.decode(np.zeros((0, 2, 10), np.int32))
        return
    with pytest.raises(ValueError, match="length must be a whole number"):
        tiny.decode(codes, length=length)


def test_a_window_too_short_for_the_model_is_said_in_seconds():
    with pytest.raises(ValueError, match=r"at least 0\.\d+ seconds"):
        BigCodec.from_pretrained(TINY, window_seconds=0.05)
    with pytest.raises(ValueError, match="positive number of seconds"):
        BigCodec.from_pretrained(TINY, window_seconds=-1)


# ------------------------------------------------------------- one line instead of a traceback

@pytest.mark.parametrize("make, words", [
    (lambda tmp: str(tmp / "d" / "a.wav"), "not a PyTorch checkpoint"),
    (lambda tmp: (tmp / "t.pt").write_bytes(open(TINY, "rb").read()[:5000]) and str(tmp / "t.pt"), "truncated"),
    (lambda tmp: (tmp / "plain").mkdir() or str(tmp / "plain"), "is neither a converted checkpoint"),
])
def test_an_unusable_checkpoint_is_one_line(recordings, tmp_path, capsys, make, words):
    checkpoint = make(tmp_path)
    status = inference_cli.main(["encode", str(recordings), "--output", str(tmp_path / "o"), "--checkpoint",
                                 checkpoint])
    assert status == errors.FAILED
    one_line_error(capsys.readouterr().err, words)


@pytest.mark.parametrize("option, value, words", [
    ("--batch-size", "0", "argument --batch-size: must be a positive integer, got '0'"),
    ("--window", "-1", "argument --window: must be a positive number of seconds, got '-1'"),
    ("--window", "nan", "seconds"),
    ("--workers", "0", "argument --workers: must be a positive integer"),
    ("--devices", "99", "argument --devices: must be at most"),
    ("--dtype", "float16", "invalid choice"),
])
def test_bad_options_are_usage_errors_before_any_model_is_loaded(recordings, tmp_path, capsys, no_model,
                                                                 option, value, words):
    argv = ["encode", str(recordings), "--output", str(tmp_path / "o"), "--checkpoint", TINY, option, value]
    assert inference_cli.main(argv) == errors.USAGE
    one_line_error(capsys.readouterr().err, words)


def test_convert_into_a_file_and_export_into_a_missing_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert convert_cli.main([TINY, str(tmp_path / "file")]) == errors.USAGE
    one_line_error(capsys.readouterr().err, "is a file")
    target = tmp_path / "new" / "folder" / "out.pt"
    assert convert_cli.main([TINY, str(target), "--to-torch"]) == errors.OK
    assert target.is_file() and not [n for n in os.listdir(target.parent) if n.startswith(".partial")]


def test_train_py_flag_errors_are_one_line(tmp_path):
    workdir = tmp_path / "run"
    for flags, words, status in (
            (["--config.nosuchkey=1"], "--config.nosuchkey=1: the config has no key", 2),
            (["--config.batch_size=abc"], "--config.batch_size=abc", 2),
            (["--config.batch_size=0"], "config.batch_size: must be a positive integer", 2),
            ([f"--config.init_from={tmp_path / 'missing.pt'}"], "config.init_from", 2),
            (["--config.data.source=list", f"--config.data.path={tmp_path / 'missing.txt'}"],
             "config.data.path", 2)):
        result = subprocess.run([sys.executable, "train.py", "--config", "tests/run_configs/fast.py",
                                 f"--workdir={workdir}", *flags], cwd=ROOT, env=ENV, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == status, result.stderr
        one_line_error(result.stderr, words)
        assert not workdir.exists()  # refused before the workdir was made


def test_ctrl_c_during_encode_is_one_line_and_keeps_finished_outputs(fast_checkpoint, tmp_path):
    checkpoint, _ = fast_checkpoint
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(40):
        sf.write(folder / f"{i:02d}.wav", np.zeros(8000, np.float32), 16000)
    proc = subprocess.Popen([sys.executable, "inference.py", "encode", str(folder), "--output", str(tmp_path / "o"),
                             "--checkpoint", checkpoint, *FAST_ARGS], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        seen = read_until(proc.stderr, "encode:", timeout=300)  # the progress bar: the run is under way
        deadline = time.time() + 300
        while not glob.glob(str(tmp_path / "o" / "*.codes.npz")):  # files are being written: mid-run
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=300)[1].decode()
    finally:
        proc.kill()
    assert proc.returncode == errors.INTERRUPTED
    last = (seen + rest).replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("interrupted (Ctrl-C): every output written so far is complete"), last
    assert "Traceback" not in seen + rest
    assert not [n for n in os.listdir(tmp_path / "o") if n.startswith(".partial")]


def test_sigterm_ends_a_command_with_its_status(recordings, tmp_path, capsys, monkeypatch):
    def terminated(self, wavs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)

    monkeypatch.setattr(BatchCodec, "start_encode", terminated)
    argv = ["encode", str(recordings), "--output", str(tmp_path / "o"), "--checkpoint", TINY]
    assert inference_cli.main(argv) == errors.TERMINATED
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("interrupted (SIGTERM)")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored


# --------------------------------------------------------------------------------- late failures

@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unwritable_output_is_found_before_any_work(recordings, tmp_path, capsys, no_model, where):
    (tmp_path / "file").write_text("x")
    output = tmp_path / "file" if where == "a file" else tmp_path / "file" / "sub"
    argv = ["encode", str(recordings), "--output", str(output), "--checkpoint", TINY]
    assert inference_cli.main(argv) == errors.USAGE
    one_line_error(capsys.readouterr().err, "--output", str(output))


def test_a_folder_without_write_permission_is_a_usage_error(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, mode=0o777):  # as a non-root user gets in a folder without write permission
        if os.path.basename(path).startswith(".write-test-"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(errors.UsageError, match=r"--output .* cannot be written \(Permission denied\)"):
        outputs.prepare_output_dir(str(tmp_path / "out"))


def test_an_empty_input_folder_is_an_error(tmp_path, capsys, no_model):
    (tmp_path / "empty").mkdir()
    argv = ["encode", str(tmp_path / "empty"), "--output", str(tmp_path / "o"), "--checkpoint", TINY]
    assert inference_cli.main(argv) == errors.USAGE
    one_line_error(capsys.readouterr().err, "no input files", "empty")
    assert inference_cli.main(["encode", str(tmp_path / "missing"), *argv[2:]]) == errors.USAGE
    one_line_error(capsys.readouterr().err, "missing: no such file or folder")


# ----------------------------------------------------------------------------------- permissions

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_outputs_get_the_permissions_of_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        with staged.staged_file(str(tmp_path / "x.wav")) as tmp, open(tmp, "wb") as f:
            f.write(b"data")
        staged.write_text(str(tmp_path / "y.json"), "{}")
    finally:
        os.umask(previous)
    for name in ("x.wav", "y.json"):
        assert os.stat(tmp_path / name).st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------- the same style everywhere

def test_every_command_reports_usage_errors_in_one_line(tmp_path, capsys, no_model):
    (tmp_path / "file").write_text("x")
    cases = [
        (evaluate_cli.main, ["--checkpoint", TINY, "--data", "corpus", "--output", str(tmp_path / "file")], "is a file"),
        (evaluate_cli.main, ["--checkpoint", "random:nosuch", "--data", "corpus", "--output", str(tmp_path)],
         "unknown model variant"),
        (evaluate_cli.main, ["--checkpoint", TINY, "--data", "corpus", "--output", str(tmp_path), "--batch-size",
                             "0"], "--batch-size"),
        (convert_cli.main, [TINY, str(tmp_path / "o"), "--step", "-1"], "--step"),
        (demo.main, ["--output", str(tmp_path / "file")], "is a file"),
        (benchmark_main, ["infer", "--seconds", "-1"], "--seconds"),
        (benchmark_main, ["train", "--variant", "huge"], "invalid choice"),
        (benchmark_main, ["suite", "--output", str(tmp_path / "s.json"), "--budget-seconds", "0"], "--budget-seconds"),
        (benchmark_main, ["suite", "--output", str(tmp_path / "s.json"), "--train-seconds", "0.01"],
         "--train-seconds 0.01"),  # not whole frames: refused before the suite starts, no JSON written
        (benchmark_main, ["infer", "--batch-sizes", "0"], "--batch-sizes"),
        (benchmark_main, ["stream", "--push-ms", "-20"], "milliseconds"),
        (benchmark_main, ["infer", "--torch-ref", str(tmp_path / "missing")], "not a folder"),
        (benchmark_main, ["e2e", "--min-seconds", "5", "--max-seconds", "2"], "must not exceed --max-seconds"),
        (inference_cli.main, [], "required"),
    ]
    for main, argv, words in cases:
        assert main(argv) == errors.USAGE, argv
        one_line_error(capsys.readouterr().err, words)
    assert not (tmp_path / "s.json").exists()  # the suite refused its settings before it started


def test_evaluate_with_an_unusable_checkpoint_is_one_line(tmp_path, capsys):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    status = evaluate_cli.main(["--checkpoint", str(tmp_path / "bad.pt"), "--data", "corpus", "--output",
                                str(tmp_path / "o"), "--max-utterances", "1"])
    assert status == errors.FAILED
    one_line_error(capsys.readouterr().err, "not a PyTorch checkpoint")


def test_a_checkpoint_or_input_that_does_not_exist_is_a_usage_error_that_creates_nothing(recordings, tmp_path,
                                                                                          capsys, no_model):
    missing, out = str(tmp_path / "missing.pt"), tmp_path / "out"
    cases = [*((inference_cli.main, [command, str(recordings), "--output", str(out), "--checkpoint", missing])
               for command in ("encode", "decode", "reconstruct")),
             (inference_cli.main, ["encode", str(recordings), "--output", str(out), "--checkpoint", missing,
                                   "--format", "arrayrecord"]),
             (evaluate_cli.main, ["--checkpoint", missing, "--data", "corpus", "--output", str(out)]),
             (convert_cli.main, [missing, str(out)]),
             (convert_cli.main, [missing, str(out / "x.pt"), "--to-torch"])]
    for main, argv in cases:
        assert main(argv) == errors.USAGE, argv
        one_line_error(capsys.readouterr().err, f"{missing}: no such file or directory")
        assert not out.exists(), argv
    assert evaluate_cli.main(["--checkpoint", TINY, "--data", str(tmp_path / "nothing"), "--output", str(out)]) \
        == errors.USAGE
    one_line_error(capsys.readouterr().err, "argument --data")
    assert not out.exists()


@errors.command()
def _raises(argv=None):
    raise {"usage": errors.UsageError("bad value"), "input": errors.InputError("bad file"),
           "os": FileNotFoundError(2, "No such file or directory", "x.wav"), "bug": ZeroDivisionError("oops"),
           "exit": SystemExit("plain message"), "ctrl-c": KeyboardInterrupt(),
           "oom": RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")}[argv[0]]


@pytest.mark.parametrize("kind, status, words", [
    ("usage", 2, "error: bad value"), ("input", 1, "error: bad file"), ("os", 1, "x.wav"),
    ("exit", 1, "error: plain message"), ("ctrl-c", 130, "interrupted (Ctrl-C)"),
    ("oom", 1, "out of device memory"), ("bug", 70, "internal error (ZeroDivisionError)"),
])
def test_the_wrapper_maps_errors_to_statuses(capsys, kind, status, words):
    assert _raises([kind]) == status
    err = capsys.readouterr().err
    assert words in err.strip().splitlines()[-1]
    assert ("Traceback" in err) == (kind == "bug")  # a traceback only for a bug...
    assert _raises([kind, "--debug"]) == status
    assert "Traceback" in capsys.readouterr().err or kind == "exit"  # ...or when asked


def test_help_exits_0_everywhere(capsys):
    for main in (inference_cli.main, evaluate_cli.main, convert_cli.main, demo.main, benchmark_main):
        assert main(["--help"]) == errors.OK
    assert "--debug" in capsys.readouterr().out
    result = subprocess.run([sys.executable, "train.py", "--help"], cwd=ROOT, env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and "--config" in result.stdout


def test_the_exit_status_table_is_in_the_docs():
    """docs/errors.md is the one table of exit statuses: a row for every constant, and no row for another."""
    page = open(os.path.join(ROOT, "docs", "errors.md")).read()
    names = ("OK", "FAILED", "USAGE", "SOFTWARE", "PREEMPTED", "INTERRUPTED", "TERMINATED")
    for name in names:
        assert f"| {getattr(errors, name)} | `{name}` |" in page, name
    rows = [line for line in page.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert len(rows) == len(names), rows


def test_library_loggers_are_quiet_unless_debug():
    """gcsfs logs each request that ran out of retries, with its traceback, before raising what the command then
    reports in one line: only --debug shows it."""
    code = ("import logging, sys\n"
            "from bigcodec_jax import errors\n"
            "logging.basicConfig()\n"
            "@errors.command()\n"
            "def main(argv=None):\n"
            "    try:\n"
            "        raise ConnectionRefusedError('refused')\n"
            "    except OSError as e:\n"
            "        logging.getLogger('gcsfs').exception('_request out of retries')\n"
            "        raise OSError('gs://bucket/x: refused') from e\n"
            "sys.exit(main())\n")
    for extra, lines in (([], ["error: gs://bucket/x: refused"]), (["--debug"], None)):
        result = subprocess.run([sys.executable, "-c", code, *extra], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == errors.FAILED
        if lines:
            assert result.stderr.splitlines() == lines
        else:
            assert "ERROR:gcsfs:_request out of retries" in result.stderr and "Traceback" in result.stderr
