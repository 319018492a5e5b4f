"""Fuzz: random malformed inputs through the API and the command lines, in bounded time.

Every case must end in a clear error or a valid result, never a crash, a hang (each test runs under an
alarm) or a traceback: the API raises ValueError with a reason; the commands name, skip and count a bad
file, or print one `error:` line with status 2 for a bad command line, before loading any model. Inputs
that pass validation run through the codec (the fast test model, so that it compiles in seconds) and
their results are checked; to bound compilation, API calls run the model only for a few padded shapes
(the others are checked up to the model's input).

Cases at the default size (FUZZ_SCALE=1), all asserted below: 120 audio files (random bytes behind a
wav or flac header, truncated, corrupted or with random header fields), 120 codes files (fields
dropped, retyped, out of range, damaged archives), 100 encode and 60 decode calls with random arrays
and arguments, 60 command lines, and an evaluation of 30 audio files (the same random kinds, as short as
one sample, names that flatten alike, silence) that names and counts the unreadable ones: 490 in all, in
about 60 s of CPU time (compilation of the fast model included). FUZZ_SCALE=10 tries ten times as many,
FUZZ_SEED another draw.
"""
import csv
import io
import json
import os
import re
import signal
import zipfile

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import audio, errors
from bigcodec_jax import config as config_lib
from bigcodec_jax import convert as convert_cli
from bigcodec_jax import demo
from bigcodec_jax import evaluate as evaluate_cli
from bigcodec_jax.audio_io import read_audio
from bigcodec_jax.data.decode import read_file
from bigcodec_jax.benchmark.__main__ import main as benchmark_main
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.inference import cli as inference_cli
from bigcodec_jax.inference import codes_file
from fast_codec import save_fast_checkpoint

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
AUDIO_FILES, CODES_FILES, ENCODES, DECODES, COMMAND_LINES, EVAL_FILES = (
    n * SCALE for n in (120, 120, 100, 60, 60, 30))
CLI_ARGS = ["--batch-size", "1", "--window", "1"]  # one padded shape for every clip of up to a second
MODEL_SHAPES = {(1, 200), (1, 400)}  # API calls of these padded 16 kHz shapes run the model


@pytest.fixture(autouse=True)
def deadline():
    """Fail instead of hanging: each test must finish within its budget."""
    def expired(signum, frame):
        raise TimeoutError("fuzz case took too long (a hang?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(600 * SCALE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzz") / "converted")
    return path, save_fast_checkpoint(path)


def _summary(out: str, command: str) -> tuple[int, int, int]:
    found = re.search(rf"{command}: (\d+) written, (\d+) already done, (\d+) failed", out)
    assert found, out
    return tuple(int(n) for n in found.groups())


def _failed_files(err: str) -> set[str]:
    return {line.split(": ")[1] for line in err.replace("\r", "\n").splitlines() if line.startswith("failed: ")}


# ----------------------------------------------------------------------------------- audio files

FORMATS = [("wav", "WAV", "PCM_16"), ("wav", "WAV", "FLOAT"), ("wav", "WAV", "PCM_U8"), ("flac", "FLAC", "PCM_16"),
           ("flac", "FLAC", "PCM_24")]
HEADER = {"wav": 44, "flac": 42}  # RIFF/fmt/data headers; fLaC + STREAMINFO


def _audio_bytes(rng) -> tuple[bytes, str]:
    ext, fmt, subtype = FORMATS[rng.integers(len(FORMATS))]
    rate = int(rng.choice([8000, 16000, 22050, 44100, 48000]))
    samples = int(rng.integers(1, rate // 4))  # up to 0.25 s
    wav = np.clip(0.3 * rng.standard_normal((samples, int(rng.integers(1, 3)))), -1, 1).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, wav, rate, format=fmt, subtype=subtype)
    return buffer.getvalue(), ext


def _spoil_audio(data: bytes, ext: str, rng) -> bytes:
    kind = rng.integers(7)
    if kind == 0:  # truncated anywhere
        return data[:rng.integers(len(data))]
    if kind == 1:  # random bytes behind a valid header
        return data[:HEADER[ext]] + rng.bytes(int(rng.integers(0, 4000)))
    if kind == 2:  # a few bytes flipped anywhere
        spoiled = bytearray(data)
        for i in rng.integers(0, len(data), rng.integers(1, 20)):
            spoiled[i] = rng.integers(256)
        return bytes(spoiled)
    if kind == 3 and ext == "wav":  # random channels, rate, byte rate, block size or bits in the fmt chunk
        spoiled = bytearray(data)
        start = int(rng.choice([22, 24, 28, 32, 34]))
        spoiled[start:start + 2] = rng.bytes(2)
        return bytes(spoiled)
    if kind == 4:  # the magic only
        return data[:4] + rng.bytes(int(rng.integers(0, 200)))
    if kind == 5:
        return b""
    return data  # valid


def test_random_audio_files_through_the_api_and_encode(checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(SEED)
    folder = tmp_path / "in"
    folder.mkdir()
    bad, lengths = set(), {}
    for i in range(AUDIO_FILES):
        data, ext = _audio_bytes(rng)
        path = str(folder / f"{i:04d}.{ext}")
        with open(path, "wb") as f:
            f.write(_spoil_audio(data, ext, rng))
        try:
            wav, rate = read_audio(path)
            lengths[path] = audio.as_batch(wav, rate).shape[1]
        except ValueError:
            bad.add(path)
    assert 0 < len(bad) < AUDIO_FILES  # both kinds were tried
    path, codec = checkpoint
    status = inference_cli.main(["encode", str(folder), "--output", str(tmp_path / "out"), "--checkpoint", path,
                                 *CLI_ARGS])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and status == (errors.FAILED if bad else errors.OK)
    assert _summary(out, "encode") == (AUDIO_FILES - len(bad), 0, len(bad))
    assert _failed_files(err) == bad  # the same files as the API refuses, each named
    fingerprint = codes_file.fingerprint(codec.params)
    for source, samples in lengths.items():
        name = os.path.splitext(os.path.basename(source))[0] + ".codes.npz"
        codes, length = codes_file.load(str(tmp_path / "out" / name), fingerprint)
        assert length == samples and codes.shape == (codec.num_quantizers, codec.num_frames(samples))
    print(f"fuzz: {AUDIO_FILES} audio files, {len(bad)} refused")


# ------------------------------------------------------------------------------ evaluation inputs

def test_random_audio_files_through_evaluate(checkpoint, tmp_path, capsys):
    """Bad, short and odd files among good ones: the unreadable are named and counted (exit 1), every other
    utterance is measured or its metric missing with a reason, each example has files of its own."""
    rng = np.random.default_rng(SEED + 5)
    folder = tmp_path / "in"
    (folder / "a").mkdir(parents=True)
    odd = {"a/one.wav": np.full(1, 0.5, np.float32), "a_one.wav": np.full(3, -0.5, np.float32),  # flatten alike
           "silence.wav": np.zeros(1000, np.float32), "noise.wav": (0.3 * rng.standard_normal(8000)).astype(np.float32)}
    for name, wav in odd.items():
        sf.write(folder / name, wav, 16000)
    for i in range(EVAL_FILES - len(odd)):
        data, ext = _audio_bytes(rng)
        (folder / ("a" if i % 3 == 0 else "") / f"{i:04d}.{ext}").write_bytes(_spoil_audio(data, ext, rng))
    bad = set()
    for path in folder.rglob("*.*"):
        try:
            read_file(str(path))
        except ValueError:
            bad.add(str(path.relative_to(folder)))
    assert 0 < len(bad) < EVAL_FILES - len(odd)
    out = tmp_path / "eval"
    status = evaluate_cli.main(["--checkpoint", checkpoint[0], "--data", str(folder), "--output", str(out),
                                "--batch-size", str(EVAL_FILES), "--examples", "4"])
    stdout, err = capsys.readouterr()
    assert "Traceback" not in err and status == errors.FAILED, err[-2000:]
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["unreadable"] == len(bad) and set(summary["unreadable_inputs"]) == bad
    assert summary["utterances"] == EVAL_FILES - len(bad)
    assert f"{EVAL_FILES - len(bad)} utterances measured, {len(bad)} unreadable" in stdout
    assert f"{len(bad)} inputs could not be read" in (out / "report.html").read_text()
    with open(out / "utterances.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["name"] for r in rows} | bad == {str(p.relative_to(folder)) for p in folder.rglob("*.*")}
    for row in rows:  # every metric has a value or a reason
        missing = {part.split(": ")[0] for part in row["missing"].split("; ") if part}
        assert all((row[m] == "") == (m in missing) for m in evaluate_cli.ALL_METRICS), row
    assert {r["stoi"] != "" for r in rows if r["name"] == "noise.wav"} == {True}  # long enough for STOI
    stems = [r["example"] for r in rows[:4]]  # the shortest four: a/one.wav and a_one.wav among them
    assert {"a/one.wav", "a_one.wav"} <= {r["name"] for r in rows[:4]} and all(r["example"] == "" for r in rows[4:])
    assert len(set(stems)) == 4 and len(os.listdir(out / "examples")) == 3 * 4
    print(f"fuzz: {EVAL_FILES} evaluation inputs, {len(bad)} unreadable")


# ----------------------------------------------------------------------------------- codes files

NASTY = [np.float64(3.7), np.int64(-1), np.int64(0), np.int64(2 ** 62), np.str_("text"), np.array([1, 2]),
         np.zeros((2, 2)), np.bool_(True), np.uint8(255), np.array([], np.int64), np.array([None], object),
         np.float32(np.nan), np.int64(13)]
FIELDS = ["format_version", "length", "sample_rate", "config", "fingerprint", "codes", "packed_codes", "code_bits",
          "codes_shape"]


def _valid_codes_fields(codec, rng, folder) -> dict:
    frames = int(rng.integers(1, 6))
    codes = rng.integers(0, codec.codebook_size, (codec.num_quantizers, frames))
    path = os.path.join(folder, ".valid.npz")
    codes_file.save(path, codes, int(rng.integers(1, frames * codec.hop_length + 1)), int(rng.integers(1000, 48001)),
                    codec.config, codes_file.fingerprint(codec.params), packed=bool(rng.integers(2)))
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def _spoil_codes(fields: dict, rng) -> dict | bytes:
    for _ in range(int(rng.integers(1, 4))):
        kind, name = rng.integers(9), FIELDS[rng.integers(len(FIELDS))]
        if kind == 0:
            fields.pop(name, None)
        elif kind == 1:
            fields[name] = NASTY[rng.integers(len(NASTY))]
        elif kind == 2 and "codes" in fields:
            dtype = [np.float32, np.int8, np.uint64, np.bool_, np.int64][rng.integers(5)]
            fields["codes"] = (fields["codes"] + rng.integers(-3, 300)).astype(dtype)
        elif kind == 3 and "codes" in fields:
            fields["codes"] = rng.integers(0, 256, tuple(rng.integers(0, 4, rng.integers(1, 4))))
        elif kind == 4:
            fields["code_bits"] = np.int64(rng.integers(-3, 40))
        elif kind == 5:
            fields["codes_shape"] = rng.integers(-2, 100, rng.integers(0, 4))
        elif kind == 6:
            fields["packed_codes"] = np.frombuffer(rng.bytes(int(rng.integers(0, 50))), np.uint8)
        elif kind == 7:
            config = [json.dumps({"decoder": {"codebook_size": 3}}), "{not json", "[]", "{}",
                      config_lib.to_json(config_lib.model_config("official_debug"))][rng.integers(5)]
            fields["config"] = np.str_(config)
        else:
            fields["length"] = NASTY[rng.integers(len(NASTY))]
    if rng.integers(8) == 0:  # now and then a damaged archive instead
        buffer = io.BytesIO()
        np.savez(buffer, **fields)
        data = buffer.getvalue()
        return [data[:rng.integers(len(data))], rng.bytes(200), _not_npy_zip()][rng.integers(3)]
    return fields


def _not_npy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("length.npy", b"not an array")
    return buffer.getvalue()


def test_random_codes_files_through_load_and_decode(checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(SEED + 1)
    path, codec = checkpoint
    fingerprint = codes_file.fingerprint(codec.params)
    folder = tmp_path / "codes"
    folder.mkdir()
    bad, lengths = set(), {}
    for i in range(CODES_FILES):
        spoiled = _spoil_codes(_valid_codes_fields(codec, rng, tmp_path), rng) if i % 6 else \
            _valid_codes_fields(codec, rng, tmp_path)
        target = str(folder / f"{i:04d}.codes.npz")
        if isinstance(spoiled, bytes):
            with open(target, "wb") as f:
                f.write(spoiled)
        else:
            np.savez(target, **spoiled)
        try:
            codes, length = codes_file.load(target, fingerprint)
            codec.check_codes(codes[None], length)
            assert codes.dtype == np.int32 and codes.shape[0] == codec.num_quantizers
            lengths[target] = length
        except ValueError:
            bad.add(target)
    assert 0 < len(bad) < CODES_FILES
    status = inference_cli.main(["decode", str(folder), "--output", str(tmp_path / "out"), "--checkpoint", path,
                                 *CLI_ARGS])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and status == errors.FAILED
    assert _summary(out, "decode") == (CODES_FILES - len(bad), 0, len(bad))
    assert _failed_files(err) == bad
    for source, length in lengths.items():
        wav, rate = sf.read(str(tmp_path / "out" / os.path.basename(source).replace(".codes.npz", ".wav")))
        assert rate == 16000 and len(wav) == length
    print(f"fuzz: {CODES_FILES} codes files, {len(bad)} refused")


# ------------------------------------------------------------------------------- API arguments

RATES = [16000, 8000, 16000.0, np.int32(16000), 16, 0, -16000, True, False, 16000.5, "16000", None, 1e12,
         float("nan"), float("inf"), 999, 1000, 48000]
GOOD_RATES = [16000, 16000, 8000, np.int64(16000), 16000.0, 24000]
LENGTH_DIMS = [0, 1, 2, 9, 150, 200, 333, 400]


def _random_audio(rng):
    """(audio, sample rate): half of them plausible (mono or one clip, in range, a real rate), some of those
    then spoiled in one way, the rest anything."""
    if rng.integers(2):
        length = int(rng.choice(LENGTH_DIMS[1:]))
        wav = (0.3 * rng.standard_normal(length)).astype(np.float32)
        wav, rate = (wav if rng.integers(2) else wav[None]), GOOD_RATES[rng.integers(len(GOOD_RATES))]
        spoil = rng.integers(8)
        if spoil == 0:
            rate = RATES[rng.integers(len(RATES))]
        elif spoil == 1:
            wav = wav * 1e4
        elif spoil == 2:
            wav = np.stack([wav.reshape(-1)] * 2, axis=-1)  # channels last
        elif spoil == 3:
            wav = wav.astype(np.int16)
        return wav, rate
    kind = rng.integers(10)
    rate = RATES[rng.integers(len(RATES))]
    if kind == 0:
        return [[0.1] * int(rng.integers(1, 5)), [0.2] * int(rng.integers(1, 5))], rate  # ragged or not
    if kind == 1:
        return [None, "abc", 0.5, b"x", {"wav": 1}, np.float32(0.1)][rng.integers(6)], rate
    dtype = [np.float32, np.float32, np.float64, np.float16, np.int16, np.bool_, np.complex64, np.uint8][rng.integers(8)]
    shape = tuple(int(rng.choice(LENGTH_DIMS)) if d == 0 else int(rng.choice([1, 1, 2, 3, 400]))
                  for d in range(int(rng.integers(0, 4)))[::-1])
    wav = rng.standard_normal(shape) * float(rng.choice([1e-3, 0.3, 0.6, 3.0, 1e6]))
    if rng.integers(6) == 0 and wav.size:
        wav.flat[rng.integers(wav.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
    with np.errstate(over="ignore", invalid="ignore"):
        return wav.astype(dtype), rate


def test_random_arrays_and_arguments_to_encode(checkpoint):
    rng = np.random.default_rng(SEED + 2)
    codec = checkpoint[1]
    refused = 0
    for _ in range(ENCODES):
        wav, rate = _random_audio(rng)
        try:
            batch = audio.pad_to_multiple(audio.as_batch(wav, rate), codec.hop_length)
        except ValueError:
            with pytest.raises(ValueError):
                codec.encode(wav, sample_rate=rate)
            refused += 1
            continue
        assert batch.dtype == np.float32 and np.all(np.isfinite(batch))
        samples = audio.resampled_length(np.shape(wav)[-1], audio.check_sample_rate(rate))
        assert batch.shape[1] == -(-samples // codec.hop_length) * codec.hop_length
        if batch.shape in MODEL_SHAPES:
            codes = codec.encode(wav, sample_rate=rate)
            assert codes.dtype == np.int32 and codes.shape == (1, codec.num_quantizers, batch.shape[1] // 200)
    assert 0 < refused < ENCODES
    print(f"fuzz: {ENCODES} encode calls, {refused} refused")


def test_random_codes_and_lengths_to_decode(checkpoint):
    rng = np.random.default_rng(SEED + 3)
    codec = checkpoint[1]
    lengths = [None, 1, 200, 201, 0, -1, 3.7, 1000.7, True, "10", np.int32(5), 200.0, np.float64(np.nan), 10 ** 9]
    refused = 0
    for _ in range(DECODES):
        if rng.integers(2):  # plausible: (n_q, frames) or (1, n_q, frames) codes in range, a length that fits
            shape = (1,) * int(rng.integers(2)) + (codec.num_quantizers, int(rng.integers(1, 3)))
            codes = rng.integers(0, codec.codebook_size, shape).astype([np.int32, np.int64, np.uint16][rng.integers(3)])
            length = [None, 1, 200, np.int32(5), 200.0][rng.integers(5)]
        else:
            shape = tuple(int(rng.choice([0, 1, 1, 2, 3])) for _ in range(int(rng.integers(1, 4))))
            dtype = [np.int32, np.int64, np.uint16, np.float32, np.bool_, np.int8][rng.integers(6)]
            codes = rng.integers(-2, codec.codebook_size + 2, shape).astype(dtype)
            length = lengths[rng.integers(len(lengths))]
        try:
            full = codec.check_codes(codes if codes.ndim != 2 else codes[None], length)
        except ValueError:
            with pytest.raises(ValueError):
                codec.decode(codes, length=length)
            refused += 1
            continue
        batch = 1 if codes.ndim == 2 else codes.shape[0]
        if (batch, codes.shape[-1] * codec.hop_length) in MODEL_SHAPES:
            wav = codec.decode(codes, length=length)
            assert wav.dtype == np.float32 and wav.shape == (batch, full)
    assert 0 < refused < DECODES
    print(f"fuzz: {DECODES} decode calls, {refused} refused")


# ------------------------------------------------------------------------------- command lines

BAD_VALUES = ["0", "-1", "x", "1.5", "", "nan", "inf", "-0.5", "1e999", "--"]  # for positive integers and seconds


def _bad_command_line(rng, tmp_path, checkpoint: str) -> tuple:
    """(main, argv) that must be refused as a usage error before any model is loaded."""
    folder, afile = str(tmp_path / "in"), str(tmp_path / "in" / "a.wav")
    kind = rng.integers(8)
    if kind < 4:  # inference.py with one bad option value, or a bad path
        command = ["encode", "decode", "reconstruct"][rng.integers(3)]
        option = ["--batch-size", "--workers", "--devices", "--window"][rng.integers(4)]
        value = (BAD_VALUES + ["9" * 30] * (option == "--devices"))[rng.integers(len(BAD_VALUES))]
        if option == "--window" and value in ("1.5", "1e999"):
            value = "-" + value
        argv = [command, folder, "--output", str(tmp_path / "out"), "--checkpoint", checkpoint, option, value]
        if kind == 3:
            argv = [command, [str(tmp_path / "missing"), folder][rng.integers(2)], "--output",
                    [afile, afile + "/sub", folder if command == "reconstruct" else afile][rng.integers(3)],
                    "--checkpoint", checkpoint]
        return inference_cli.main, argv
    if kind == 4:
        words = ["encode", "--output", "--checkpoint", "--pack", "--nope", checkpoint, "-x", "--batch-size", "2"]
        return inference_cli.main, [words[i] for i in rng.integers(0, len(words), rng.integers(0, 5))]
    if kind == 5:
        option = ["--examples", "--max-utterances", "--batch-size", "--metrics", "--data", "--checkpoint"][rng.integers(6)]
        value = {"--metrics": "pesq,nosuch", "--data": str(tmp_path / "missing"),
                 "--checkpoint": "random:nosuch"}.get(option, ["-1", "x", "1.5", ""][rng.integers(4)])
        if option == "--batch-size" and value == "-1":
            value = "0"
        args = {"--checkpoint": checkpoint, "--data": "corpus", "--output": str(tmp_path / "eval"), option: value}
        return evaluate_cli.main, [word for pair in args.items() for word in pair]
    if kind == 6:
        return convert_cli.main, [[checkpoint, afile, "--to-torch"], [checkpoint, checkpoint], [checkpoint],
                                  [checkpoint, str(tmp_path / "c"), "--step", BAD_VALUES[1 + rng.integers(2)]],
                                  [checkpoint, afile]][rng.integers(5)]
    return [(demo.main, ["--steps", BAD_VALUES[rng.integers(len(BAD_VALUES))]]),
            (demo.main, ["--output", afile]),
            (benchmark_main, ["infer", "--batch-sizes", "8", BAD_VALUES[rng.integers(3)]]),
            (benchmark_main, ["train", "--repeats", "0"]),
            (benchmark_main, ["nosuch"])][rng.integers(5)]


def test_random_bad_command_lines_are_one_line_usage_errors(checkpoint, tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the command line was checked")

    monkeypatch.setattr(pretrained, "load", refuse)
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", np.zeros(400, np.float32), 16000)
    rng = np.random.default_rng(SEED + 4)
    for _ in range(COMMAND_LINES):
        main, argv = _bad_command_line(rng, tmp_path, checkpoint[0])
        status = main(argv)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert status == errors.USAGE and len(lines) == 1 and lines[0].startswith("error: "), (argv, status, err)
    print(f"fuzz: {COMMAND_LINES} command lines")
