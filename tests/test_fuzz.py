"""Fuzz: random malformed inputs through the API and the command lines, in bounded time.

Every case must end in a clear error or a valid result, never a crash, a hang (each test runs under an
alarm) or a traceback: the API raises ValueError with a reason; the commands name, skip and count a bad
file, or print one `error:` line with status 2 for a bad command line, before loading any model. Inputs
that pass validation run through the codec (the fast test model, so that it compiles in seconds) and
their results are checked; to bound compilation, API calls run the model only for a few padded shapes
(the others are checked up to the model's input).

Cases at the default size (FUZZ_SCALE=1), all asserted below: 120 audio files (random bytes behind a
wav or flac header, truncated, corrupted or with random header fields), 120 codes files (fields
dropped, retyped, out of range, damaged archives), 16 codes shard directories (`index.json` cut,
retyped or inconsistent; shards truncated, corrupted or holding records that are not records) read
through `CodesSource` and `decode`, 100 encode and 60 decode calls with random arrays and arguments,
60 command lines, 40 stream constructions with random options and 60 pushes (and flushes) into each
direction's stream, 80 safetensors checkpoints with damaged headers and 80 with malformed embedded
model configs (each refused with a one-line CheckpointError naming the file), and an evaluation of
30 audio files (the same random kinds, as short as one sample, names that flatten alike, silence) that
names and counts the unreadable ones: 866 in all.
FUZZ_SCALE=10 tries ten times as many, FUZZ_SEED another draw.
"""
import csv
import io
import json
import os
import re
import signal
import struct
import zipfile

import ml_collections
import msgpack
import numpy as np
import pytest
import soundfile as sf
from array_record.python.array_record_module import ArrayRecordReader, ArrayRecordWriter

from bigcodec_jax import audio, errors
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax import convert as convert_cli
from bigcodec_jax import demo
from bigcodec_jax import evaluate as evaluate_cli
from bigcodec_jax.data.decode import read_file
from bigcodec_jax.benchmark.__main__ import main as benchmark_main
from bigcodec_jax.checkpoints import official, pretrained, safetensors_format
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.data import CodesSource
from bigcodec_jax.inference import cli as inference_cli
from bigcodec_jax.io import codes_files, codes_shards
from bigcodec_jax.io.audio_files import read_audio
from conftest import COMMITTED_SET, reference_path
from fast_codec import save_fast_checkpoint

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
SEED = int(os.environ.get("FUZZ_SEED", "0"))
(AUDIO_FILES, CODES_FILES, SHARD_DIRECTORIES, ENCODES, DECODES, COMMAND_LINES, STREAM_OPTIONS, STREAM_PUSHES,
 SAFETENSORS_FILES, MODEL_CONFIGS, EVAL_FILES) = (n * SCALE for n in (120, 120, 16, 100, 60, 60, 40, 60, 80, 80, 30))
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
    fingerprint = codes_files.fingerprint(codec.params)
    for source, samples in lengths.items():
        name = os.path.splitext(os.path.basename(source))[0] + ".codes.npz"
        codes, length = codes_files.load(str(tmp_path / "out" / name), fingerprint)
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
    codes_files.save(path, codes, int(rng.integers(1, frames * codec.hop_length + 1)), int(rng.integers(1000, 48001)),
                     codec.config, codes_files.fingerprint(codec.params), packed=bool(rng.integers(2)))
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
    fingerprint = codes_files.fingerprint(codec.params)
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
            codes, length = codes_files.load(target, fingerprint)
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


# ----------------------------------------------------------------------------------- codes shards

def _write_shard(path: str, records: list[bytes]) -> None:
    writer = ArrayRecordWriter(path, "group_size:1")
    for record in records:
        writer.write(record)
    writer.close()


def _valid_shard_directory(folder: str, number: int, codec, rng) -> dict:
    """A codes shard directory as `encode --format arrayrecord` writes it (random codes, no model run); its index."""
    os.makedirs(folder)
    count, shards, seconds = int(rng.integers(1, 5)), [], 0.0
    for i in range(count):
        records = []
        for j in range(int(rng.integers(1, 4))):
            frames = int(rng.integers(1, 6))
            length = int(rng.integers(1, frames * codec.hop_length + 1))
            codes = rng.integers(0, codec.codebook_size, (codec.num_quantizers, frames))
            records.append(codes_shards.encode_record(f"{number}/{i}-{j}.wav", codes, length, 16000))
            seconds += length / 16000
        shards.append({"file": codes_shards.shard_name(i, count), "records": len(records), "frames": 0,
                       "seconds": 0.0})
        _write_shard(os.path.join(folder, shards[-1]["file"]), records)
    return {"format": codes_shards.FORMAT, "format_version": codes_shards.FORMAT_VERSION,
            "config": codec.config.to_dict(), "fingerprint": codes_files.fingerprint(codec.params),
            "shards": shards, "records": sum(s["records"] for s in shards), "frames": 0, "seconds": seconds,
            "failed": []}


INDEX_KEYS = ["format", "format_version", "fingerprint", "config", "shards", "records", "seconds"]
JSON_NASTY = [None, "x", -1, 1.5, True, [], {}, [{}], [{"file": "../x", "records": 1}]]


def _spoil_index(index: dict, rng) -> str | bytes:
    kind = rng.integers(7)
    text = json.dumps(index)
    if kind == 0:
        return text[:rng.integers(len(text))]
    if kind == 1:
        return ["[]", "3", "null", '"index"'][rng.integers(4)]
    if kind == 2:
        index.pop(INDEX_KEYS[rng.integers(len(INDEX_KEYS))])
    elif kind == 3:
        index[INDEX_KEYS[rng.integers(len(INDEX_KEYS))]] = JSON_NASTY[rng.integers(len(JSON_NASTY))]
    elif kind == 4:
        shard = index["shards"][rng.integers(len(index["shards"]))]
        shard[["file", "records"][rng.integers(2)]] = [None, "../x", "a/b", -1, "2", True, 99][rng.integers(7)]
    elif kind == 5:
        index["records"] += 1
    else:
        return b"\xff\xfe" + rng.bytes(20)
    return json.dumps(index)


def _spoil_shard(path: str, codec, rng) -> None:
    data = open(path, "rb").read()
    kind = rng.integers(6)
    if kind == 0:
        data = data[:rng.integers(len(data))]
    elif kind == 1:
        spoiled = bytearray(data)
        nonzero = np.flatnonzero(np.frombuffer(data, np.uint8))  # the records and the footer, not the padding
        for i in rng.choice(nonzero, rng.integers(1, 4)):
            spoiled[i] ^= int(rng.integers(1, 256))
        data = bytes(spoiled)
    elif kind == 2:
        data = rng.bytes(int(rng.choice([0, 100, 70000])))
    else:  # readable, holding a record that is not one
        codes = np.full((codec.num_quantizers, 2), codec.codebook_size)  # outside the codebook
        bad = [b"garbage", msgpack.packb({}), msgpack.packb({"id": "x", "codes": b"123", "n_q": 1, "frames": 9,
               "length": 1, "sample_rate": 1}), codes_shards.encode_record("x", codes, 10, 16000)][kind - 3]
        reader = ArrayRecordReader(path)
        records = list(reader.read_all())
        reader.close()
        records[rng.integers(len(records))] = bad
        _write_shard(path, records)
        return
    with open(path, "wb") as f:
        f.write(data)


def _expected(folder: str, codec, fingerprint: str) -> tuple[set[str], dict[str, int]]:
    """What the API says of a shard directory: (the names decode must fail, {output name: samples} it must
    write); every refusal is one line naming the directory or shard."""
    try:
        source = CodesSource(folder, skip_damaged=True)
    except ValueError as e:
        assert isinstance(e, errors.InputError) and "\n" not in str(e) and str(e).startswith(folder), e
        return {folder}, {}
    assert source.fingerprint == fingerprint
    if source.damaged:
        with pytest.raises(errors.InputError) as refused:
            CodesSource(folder)
        assert str(refused.value).startswith(source.damaged[0][0]) and "\n" not in str(refused.value)
    failed, lengths = {shard for shard, _ in source.damaged}, {}
    for i in range(len(source)):
        try:
            record = source[i]
            codec.check_codes(record["codes"][None], record["length"])
            lengths[os.path.splitext(record["id"])[0] + ".wav"] = record["length"]
        except ValueError as e:
            assert "\n" not in str(e) and (not isinstance(e, errors.InputError) or ".array_record: record" in str(e))
            failed.add(f"{folder}[{i}]")
    return failed, lengths


def test_damaged_codes_shards_and_indexes_through_the_source_and_decode(checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(SEED + 5)
    path, codec = checkpoint
    fingerprint = codes_files.fingerprint(codec.params)
    failed, lengths, folders = set(), {}, []
    for n in range(SHARD_DIRECTORIES):
        folder = str(tmp_path / f"shards{n:03d}")
        index = _valid_shard_directory(folder, n, codec, rng)
        text = _spoil_index(index, rng) if rng.integers(4) == 0 else json.dumps(index)
        with open(os.path.join(folder, codes_shards.INDEX_FILE), "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        for shard in index["shards"] if isinstance(index.get("shards"), list) else []:
            name = os.path.join(folder, str(shard.get("file")) if isinstance(shard, dict) else "")
            if os.path.isfile(name) and rng.integers(3) == 0:
                _spoil_shard(name, codec, rng)
        bad, good = _expected(folder, codec, fingerprint)
        failed |= bad
        lengths.update(good)
        folders.append(folder)
    assert failed and lengths  # both kinds were tried
    status = inference_cli.main(["decode", *folders, "--output", str(tmp_path / "out"), "--checkpoint", path,
                                 *CLI_ARGS])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and status == errors.FAILED
    assert _summary(out, "decode") == (len(lengths), 0, len(failed))
    assert set(re.search(r"failed \((.*)\)", out).group(1).split(", ")) == failed  # each named
    for name, length in lengths.items():
        wav, rate = sf.read(str(tmp_path / "out" / name))
        assert rate == 16000 and len(wav) == length
    print(f"fuzz: {SHARD_DIRECTORIES} shard directories, {len(failed)} damaged parts refused")


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


# ------------------------------------------------------------------------------------- streams

# Option values of `stream_encoder` / `stream_decoder`: accepted, and refused with a ValueError naming the option.
GOOD_OPTIONS = {"batch_size": [1, 2, 2.0, np.int64(1)], "lookahead_frames": [None, 0, 3, 10 ** 6, np.int64(2)],
                "block_frames": [(8,), [8, 2], np.array([4])]}
BAD_OPTIONS = {"batch_size": [0, -1, True, 2.5, None, "2", np.nan],
               "lookahead_frames": [-1, True, False, 1.5, "2", np.inf, [2]],
               "block_frames": [(0,), (), 8, "8", (1.5,), (True,), (1 << 17,), None, {8}, np.array([[4]])]}


def test_random_options_to_streams_are_refused_by_name(checkpoint):
    rng = np.random.default_rng(SEED + 5)
    codec = checkpoint[1]
    refused = 0
    for _ in range(STREAM_OPTIONS):
        option = list(GOOD_OPTIONS)[rng.integers(3)]
        good = bool(rng.integers(2))
        values = (GOOD_OPTIONS if good else BAD_OPTIONS)[option]
        value = values[rng.integers(len(values))]
        make = [codec.stream_encoder, codec.stream_decoder][rng.integers(2)]
        try:
            stream = make(**{option: value})
        except ValueError as e:
            assert not good and str(e).startswith(f"{option} must be") and "\n" not in str(e), (option, value, e)
            refused += 1
            continue
        assert good, (option, value)
        assert stream.batch_size == (value if option == "batch_size" else 1)
    assert 0 < refused < STREAM_OPTIONS
    print(f"fuzz: {STREAM_OPTIONS} stream constructions, {refused} refused")


def _random_push(rng, encoder: bool, codec) -> tuple:
    """(piece, lengths) for a stream of 2 rows: mostly plausible, some spoiled in one way, some anything."""
    n = int(rng.choice([0, 1, 37, 200, 333, 800] if encoder else [0, 1, 3, 8, 13]))
    if encoder:
        piece = (0.3 * rng.standard_normal((2, n))).astype(np.float32)
    else:
        piece = rng.integers(0, codec.codebook_size, (2, codec.num_quantizers, n)).astype(np.int32)
    spoil = rng.integers(12)
    if spoil == 0 and piece.size:  # one value out of range (perhaps past its row's end)
        piece.flat[rng.integers(piece.size)] = [5.0, -2.5, np.nan, np.inf][rng.integers(4)] if encoder else \
            [-1, codec.codebook_size][rng.integers(2)]
    elif spoil == 1:
        piece = piece.astype([np.int16, np.float64, np.bool_, np.complex64][rng.integers(4)])
    elif spoil == 2:
        piece = [piece[:1], piece[None], piece[0], piece[:, :1] if not encoder else piece.T][rng.integers(4)]
    elif spoil == 3:
        piece = [[[0.1] * 3, [0.2] * 2], None, "abc", {"x": 1}, 0.5][rng.integers(5)]
    lengths = None
    if rng.integers(3) == 0:
        lengths = [rng.integers(0, n + 1, 2), [n, n, n], [-1, 0], [n + 1, 0], [0.5, 1.0], [[1], [1, 2]], "x",
                   np.array([n, 0], np.uint16)][rng.integers(8)]
    return piece, lengths


def _offline_accepts(codec, encoder: bool, piece, lengths, ended: np.ndarray) -> np.ndarray | None:
    """The real steps of each row if the offline checks accept the push (each row's real part through
    `audio.as_batch` / `BigCodec.check_codes`, as `encode` / `decode` would), None if they refuse it."""
    try:
        piece = np.asarray(piece)
        lengths = None if lengths is None else np.asarray(lengths)
    except ValueError:
        return None
    if piece.ndim != (2 if encoder else 3) or piece.shape[:piece.ndim - 1] != ((2,) if encoder else (2, codec.num_quantizers)):
        return None
    n = piece.shape[-1]
    if lengths is None:
        lengths = np.where(ended, 0, n)
    elif lengths.shape != (2,) or lengths.dtype.kind not in "iu" or (lengths < 0).any() or (lengths > n).any() \
            or (lengths[ended] > 0).any():
        return None
    if piece.dtype.kind not in ("f" if encoder else "iu"):
        return None
    for row, m in enumerate(lengths):
        try:
            if m and encoder:
                audio.as_batch(piece[row, :m], 16000)
            elif m:
                codec.check_codes(piece[row:row + 1, :, :m])
        except ValueError:
            return None
    return lengths.astype(np.int64)


@pytest.mark.parametrize("encoder", [True, False], ids=["encoder", "decoder"])
def test_random_pushes_to_streams(checkpoint, encoder):
    """Random pieces and `lengths` into a stream of 2 rows: refused (ValueError) exactly when the offline checks
    refuse them, the stream going on after each refusal; the joined outputs end at the longest row's end."""
    rng = np.random.default_rng(SEED + 6 + encoder)
    codec = checkpoint[1]
    lookahead = [None, 0, 2][rng.integers(3)]
    stream = (codec.stream_encoder if encoder else codec.stream_decoder)(2, lookahead, (8,))
    ends, ended, outputs, refused = np.zeros(2, np.int64), np.zeros(2, bool), [], 0
    for _ in range(STREAM_PUSHES):
        piece, lengths = _random_push(rng, encoder, codec)
        accepted = _offline_accepts(codec, encoder, piece, lengths, ended)
        try:
            outputs.append(stream.push(piece, lengths=lengths))
        except ValueError as e:
            assert accepted is None and "\n" not in str(e), (piece, lengths, e)
            refused += 1
            continue
        assert accepted is not None, (piece, lengths)
        ends += accepted
        ended |= accepted < np.shape(piece)[-1]
    if not encoder:
        for length in (True, 1.5, -1, "10", int(ends.max()) * codec.hop_length + 1):
            with pytest.raises(ValueError, match="^length must be"):
                stream.flush(length=length)
    outputs.append(stream.flush())
    joined = np.concatenate(outputs, axis=-1)
    frames = -(-int(ends.max()) // codec.hop_length) if encoder else int(ends.max())
    assert joined.shape == ((2, codec.num_quantizers, frames) if encoder else (2, frames * codec.hop_length))
    assert 0 < refused < STREAM_PUSHES
    print(f"fuzz: {STREAM_PUSHES} pushes into a stream {'encoder' if encoder else 'decoder'}, {refused} refused")


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


# ------------------------------------------------------------------------------- checkpoint files

@pytest.fixture(scope="module")
def micro_safetensors(tmp_path_factory) -> tuple:
    """(the micro set as safetensors bytes with its model config embedded, its state dicts, the config)."""
    sections = pretrained.read_sections(reference_path(COMMITTED_SET + ".pt"))
    sections = {name: sections[name] for name in ("CodecEnc", "generator")}
    config = official.infer_config(sections)
    path = tmp_path_factory.mktemp("safetensors") / "micro.safetensors"
    safetensors_format.save(sections, path, config_lib.to_json(config))
    return path.read_bytes(), sections, config


def _one_line_naming(error: CheckpointError, path: str) -> None:
    assert path in str(error) and "\n" not in str(error), str(error)


def _signature(sections: dict, config) -> tuple:
    """What a checkpoint file's header decides: tensor names, shapes and types, and the model config."""
    shapes = sorted((f"{s}.{k}", v.shape, v.dtype.str) for s, sd in sections.items() for k, v in sd.items())
    return shapes, None if config is None else ml_collections.ConfigDict(config).to_dict()


HEADER_VALUES = [-1, "F99", "I32", "F16", [], [-1, 4], [10 ** 12, 10 ** 12], [2 ** 70], [5, 3], None, "x", {},
                 [0, 0], [1, 2, 3], 1e999]


def _spoil_header(data: bytes, rng) -> bytes:
    (size,) = struct.unpack("<Q", data[:8])
    header, body = json.loads(data[8:8 + size]), data[8 + size:]
    kind = rng.integers(7)
    if kind == 0:  # an absurd or wrong header length
        length = [int(rng.integers(0, 2 ** 63)), len(data) - 8 + int(rng.integers(1, 100)), int(rng.integers(0, 10)),
                  2 ** 64 - 1, size + int(rng.integers(-20, 20))][rng.integers(5)]
        return struct.pack("<Q", length % 2 ** 64) + data[8:]
    if kind == 1:  # truncated anywhere
        return data[:rng.integers(len(data))]
    if kind == 2:  # bytes of the length or the header flipped
        spoiled = bytearray(data)
        for i in rng.integers(0, 8 + size, rng.integers(1, 10)):
            spoiled[i] = rng.integers(256)
        return bytes(spoiled)
    if kind == 3:  # a tensor's entry (dtype, shape, offsets, or the whole entry) or the metadata retyped
        name = sorted(k for k in header if k != "__metadata__")[rng.integers(len(header) - 1)]
        field = ["dtype", "shape", "data_offsets", None][rng.integers(4)]
        value = HEADER_VALUES[rng.integers(len(HEADER_VALUES))]
        if field is None:
            header[name] = value
        else:
            header[name][field] = value
        if rng.integers(4) == 0:
            header["__metadata__"] = [None, 5, {"a": 5}, {"a": None}, "x"][rng.integers(5)]
        text = json.dumps(header).encode()
    elif kind == 4:  # random bytes for a header
        text = rng.bytes(int(rng.integers(0, 300)))
    elif kind == 5:  # JSON that is not a safetensors header
        text = [b"[]", b"null", b'"x"', b"{}", b'{"a": 1}', b'{"__metadata__": {}}', b"1e999", b"[" * 5000][rng.integers(8)]
    else:
        return data  # valid
    return struct.pack("<Q", len(text)) + text + body


def test_random_safetensors_headers_are_one_line_input_errors(micro_safetensors, tmp_path, capsys):
    """A damaged header is refused by the reader, naming the file; what a header lets through (another name,
    shape, type or config) loads or is refused as a checkpoint that does not match the model, never with
    another exception; the command says it in one line and exits 1."""
    data, sections, config = micro_safetensors
    good = _signature(sections, config)
    rng = np.random.default_rng(SEED + 5)
    refused, changed = [], 0
    for i in range(SAFETENSORS_FILES):
        path = str(tmp_path / f"{i:04d}.{['safetensors', 'bin'][rng.integers(2)]}")  # found by name or by header
        with open(path, "wb") as f:
            f.write(_spoil_header(data, rng))
        try:
            read = pretrained.read_file(path)
        except CheckpointError as e:
            _one_line_naming(e, path)
            assert not path.endswith(".safetensors") or "PyTorch" not in str(e), str(e)  # the header's fault is said
            refused.append(path)
            continue
        if _signature(*read) != good:
            changed += 1
            try:
                pretrained.load(path)
            except CheckpointError as e:
                _one_line_naming(e, path)
    assert 0 < len(refused) < SAFETENSORS_FILES
    for path in refused[:3]:
        assert convert_cli.main([path, str(tmp_path / "out")]) == errors.FAILED
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.splitlines()) == 1 and path in err, err
    print(f"fuzz: {SAFETENSORS_FILES} safetensors files, {len(refused)} refused, {changed} read with another "
          "name, shape, type or config")


CONFIG_VALUES = [-1, 0, 1, 2, 3, 7, 1.5, "x", None, True, [], [0], [1], [2, 2], {}, [1, 2, 3, 4, 5, 6], float("nan"),
                 10 ** 30]


def _leaves(config: dict, prefix: tuple = ()) -> list[tuple]:
    return [leaf for key, value in config.items()
            for leaf in (_leaves(value, prefix + (key,)) if isinstance(value, dict) else [prefix + (key,)])]


def _spoil_config(config: dict, rng) -> str:
    kind = rng.integers(6)
    if kind == 0:  # not JSON, or not an object
        text = json.dumps(config)
        return [text[:rng.integers(len(text))], "[1, 2]", "null", '"text"', "[" * 5000, "{}"][rng.integers(6)]
    config = json.loads(json.dumps(config))
    leaves = _leaves(config)
    for _ in range(int(rng.integers(1, 3))):
        *parents, key = leaves[rng.integers(len(leaves))]
        node = config
        for parent in parents:
            node = node[parent] if isinstance(node.get(parent), dict) else node.setdefault(parent, {})
        if kind == 1:
            node.pop(key, None)
        elif kind == 2:
            node["unknown" + key] = 1
        elif kind == 3 and parents:
            config[parents[0]] = CONFIG_VALUES[rng.integers(len(CONFIG_VALUES))]
        else:
            node[key] = CONFIG_VALUES[rng.integers(len(CONFIG_VALUES))]
    return json.dumps(config)


def test_random_embedded_model_configs_are_one_line_input_errors(micro_safetensors, tmp_path):
    """A malformed config in a checkpoint's metadata is refused naming the file and the field; one that passes
    the checks builds the model's shapes, and the checkpoint then loads or does not match it."""
    _, sections, config = micro_safetensors
    rng = np.random.default_rng(SEED + 6)
    refused, valid = 0, []
    for i in range(MODEL_CONFIGS):
        path = str(tmp_path / f"{i:04d}.safetensors")
        safetensors_format.save(sections, path, _spoil_config(config.to_dict(), rng))
        try:
            embedded = pretrained.read_file(path)[1]
        except CheckpointError as e:
            _one_line_naming(e, path)
            assert "invalid model config: " in str(e), str(e)
            refused += 1
            continue
        assert embedded is not None
        valid.append(path)
    assert 0 < refused < MODEL_CONFIGS
    for path in valid[:2]:  # each costs a trace of the model's shapes
        try:
            pretrained.load(path)
        except CheckpointError as e:
            _one_line_naming(e, path)
    print(f"fuzz: {MODEL_CONFIGS} embedded model configs, {refused} refused")
