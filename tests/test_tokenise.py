"""Corpus tokenisation into codes shards (`inference.py encode --format arrayrecord`): the index, records
sorted by duration with exact codes, the same output from 2 processes (bigcodec_jax.launch) as from 1,
a rerun that finishes what a killed process left, `data.CodesSource` and its fingerprint check, and
decoding a shard directory; on gs:// (the GCS emulator) both read through a cache of checked local copies."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import grain
import numpy as np
import pytest
import soundfile as sf
from array_record.python.array_record_module import ArrayRecordWriter

from bigcodec_jax import BigCodec
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.data import CodesSource
from bigcodec_jax.errors import InputError
from bigcodec_jax.inference.cli import main
from bigcodec_jax.io import codes_files, codes_shards, download_cache, paths, staged
from conftest import COMMITTED_SET, reference_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CKPT = reference_path(COMMITTED_SET + ".pt")
FAST = ["--checkpoint", CKPT, "--batch-size", "2", "--window", "1"]  # shapes shared with the other inference tests
SHARDS = ["--format", "arrayrecord", "--shard-seconds", "0.5"]
# name -> (seconds, rate, channels); sorted by duration the shards are [c, e] [a] [d] [b] [f]
AUDIO = {"a.wav": (0.3, 16000, 1), "nested/b.flac": (0.45, 22050, 2), "c.wav": (0.1, 8000, 1),
         "d.wav": (0.35, 16000, 1), "e.flac": (0.2, 16000, 1), "nested/deeper/f.wav": (1.2, 16000, 1)}
BAD = ["broken.wav", "nested/empty.wav"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    for name, (seconds, rate, channels) in AUDIO.items():
        os.makedirs(os.path.dirname(root / "in" / name), exist_ok=True)
        sf.write(root / "in" / name, (0.1 * rng.standard_normal((round(seconds * rate), channels))).astype(np.float32),
                 rate)
    (root / "in" / "broken.wav").write_text("not audio")
    sf.write(root / "in" / "nested" / "empty.wav", np.zeros(0, np.float32), 16000)
    return root


@pytest.fixture(scope="module")
def one_process(corpus):
    """The corpus tokenised by one process (in this one), and the same files as .codes.npz."""
    out = str(corpus / "one")
    assert main(["encode", str(corpus / "in"), "--output", out, *SHARDS, *FAST]) == 1  # two inputs are bad
    assert main(["encode", str(corpus / "in"), "--output", str(corpus / "npz"), *FAST]) == 1
    return out


def _records(path):
    source = CodesSource(path)
    return [source[i] for i in range(len(source))]


def _launch(processes, args, env=None):
    return subprocess.Popen([sys.executable, "-m", "bigcodec_jax.launch", "--processes", str(processes), "--",
                             sys.executable, "inference.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))


def test_shards_index_and_records(corpus, one_process):
    index = json.load(open(os.path.join(one_process, "index.json")))
    codec = BigCodec.from_pretrained(CKPT)
    assert index["format_version"] == 1 and index["fingerprint"] == codes_files.fingerprint(codec.params)
    assert config_lib.freeze(config_lib.parse_model_config(index["config"])) == codec.config
    assert [s["file"] for s in index["shards"]] == [f"codes-{i:05d}-of-00005.array_record" for i in range(5)]
    assert [s["records"] for s in index["shards"]] == [2, 1, 1, 1, 1] and index["records"] == len(AUDIO)
    assert sorted(os.path.relpath(f["input"], corpus / "in") for f in index["failed"]) == BAD
    assert all(f["reason"] for f in index["failed"])
    records = _records(one_process)
    assert [r["id"] for r in records] == ["c.wav", "e.flac", "a.wav", "d.wav", "nested/b.flac", "nested/deeper/f.wav"]
    assert index["frames"] == sum(r["codes"].shape[1] for r in records)
    assert index["seconds"] == pytest.approx(sum(r["length"] for r in records) / 16000)
    for r in records:  # the same codes as the per-file format
        stem = os.path.splitext(r["id"])[0]
        codes, length = codes_files.load(str(corpus / "npz" / f"{stem}.codes.npz"), index["fingerprint"])
        assert r["codes"].dtype == np.int32 and r["codes"].shape == (2, codec.num_frames(length))
        np.testing.assert_array_equal(r["codes"], codes)
        assert r["length"] == length and r["sample_rate"] == sf.info(corpus / "in" / r["id"]).samplerate


def test_two_processes_write_the_same_shards(corpus, one_process):
    out = str(corpus / "two")
    proc = _launch(2, ["encode", str(corpus / "in"), "--output", out, *SHARDS, *FAST])
    log, _ = proc.communicate(timeout=900)
    assert proc.returncode == 1, log[-3000:]  # the job's status: two inputs failed, reported once all were done
    assert "[0] encode: 6 records" in log and "[1] encode: process 1 wrote 2 shards" in log
    assert sorted(f for f in os.listdir(out) if f.endswith(".array_record")) == \
        sorted(f for f in os.listdir(one_process) if f.endswith(".array_record"))
    for a, b in zip(_records(out), _records(one_process), strict=True):
        assert a["id"] == b["id"] and a["length"] == b["length"] and a["sample_rate"] == b["sample_rate"]
        np.testing.assert_array_equal(a["codes"], b["codes"])
    assert json.load(open(os.path.join(out, "index.json")))["failed"] == \
        json.load(open(os.path.join(one_process, "index.json")))["failed"]


def test_a_rerun_finishes_what_a_killed_process_left(corpus, one_process):
    out = str(corpus / "killed")
    proc = _launch(2, ["encode", str(corpus / "in"), "--output", out, *SHARDS, *FAST])
    manifest = os.path.join(out, "progress", "manifest.json")  # written once the headers are read: kill process 1
    deadline = time.time() + 600                                # before it can have compiled and written a shard
    while not os.path.exists(manifest):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
        for pid in map(int, f.read().split()):
            if b"JAX_PROCESS_ID=1" in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode != 0 and not os.path.exists(os.path.join(out, "index.json"))
    done = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out) if f.endswith(".array_record")}
    assert "codes-00001-of-00005.array_record" not in done and "codes-00003-of-00005.array_record" not in done
    assert main(["encode", str(corpus / "in"), "--output", out, *SHARDS, *FAST]) == 1
    assert all(os.stat(os.path.join(out, f)).st_mtime_ns == t for f, t in done.items())  # finished shards kept
    for a, b in zip(_records(out), _records(one_process), strict=True):
        assert a["id"] == b["id"]
        np.testing.assert_array_equal(a["codes"], b["codes"])


def test_codes_source_is_a_grain_source_and_checks_the_weights(corpus, one_process):
    fingerprint = codes_files.fingerprint(BigCodec.from_pretrained(CKPT).params)
    source = CodesSource(one_process, fingerprint=fingerprint)
    shuffled = list(grain.MapDataset.source(source).shuffle(seed=3))
    assert sorted(r["id"] for r in shuffled) == sorted(AUDIO)
    with pytest.raises(ValueError, match="made by another model"):
        CodesSource(one_process, fingerprint="0" * 16)
    with pytest.raises(ValueError, match="no index.json"):
        CodesSource(str(corpus / "in"))


def test_another_model_or_shard_size_is_a_usage_error_in_the_same_output(corpus, one_process, capsys):
    other = reference_path(COMMITTED_SET + "_lightning.ckpt")  # same config, other weights
    assert main(["encode", str(corpus / "in"), "--output", one_process, *SHARDS, *FAST[2:], "--checkpoint", other]) == 2
    assert "other --checkpoint" in capsys.readouterr().err
    assert main(["encode", str(corpus / "in"), "--output", one_process, "--format", "arrayrecord", *FAST]) == 2
    assert "other --shard-seconds" in capsys.readouterr().err


def test_decode_writes_one_wav_per_record(corpus, one_process, capsys):
    out = str(corpus / "decoded")
    assert main(["decode", one_process, "--output", out, *FAST]) == 0
    assert "6 written, 0 already done, 0 failed" in capsys.readouterr().out
    assert main(["decode", str(corpus / "npz"), "--output", str(corpus / "decoded_npz"), *FAST]) == 0
    for r in _records(one_process):
        stem = os.path.splitext(r["id"])[0]
        wav, rate = sf.read(os.path.join(out, stem + ".wav"), dtype="float32")
        assert rate == 16000 and len(wav) == r["length"]
        np.testing.assert_array_equal(wav, sf.read(corpus / "decoded_npz" / f"{stem}.wav", dtype="float32")[0])
    other = reference_path(COMMITTED_SET + "_lightning.ckpt")
    assert main(["decode", one_process, "--output", out, *FAST[2:], "--checkpoint", other]) == 1
    assert "made by another model" in capsys.readouterr().err


def test_a_damaged_shard_or_record_is_named_skipped_and_counted(corpus, one_process, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(one_process, damaged)
    truncated = damaged / "codes-00002-of-00005.array_record"  # [d]
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(InputError) as refused:
        CodesSource(str(damaged))
    assert str(truncated) in str(refused.value) and "\n" not in str(refused.value)
    first = damaged / "codes-00000-of-00005.array_record"  # [c, e]: e's record replaced by bytes that are no record
    good = _records(one_process)[0]
    writer = ArrayRecordWriter(str(first), "group_size:1")
    writer.write(codes_shards.encode_record(good["id"], good["codes"], good["length"], good["sample_rate"]))
    writer.write(b"not a record")
    writer.close()
    source = CodesSource(str(damaged), skip_damaged=True)
    assert [shard for shard, _ in source.damaged] == [str(truncated)] and len(source) == 5
    with pytest.raises(InputError, match=rf"{first}: record 1: not a codes record"):
        source[1]
    out = tmp_path / "decoded"
    assert main(["decode", str(damaged), "--output", str(out), *FAST]) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err and f"failed: {truncated}: not a readable shard" in printed.err
    assert f"failed: {damaged}[1]: {first}: record 1" in printed.err
    assert "decode: 4 written, 0 already done, 2 failed" in printed.out
    assert sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs) == \
        ["a.wav", "c.wav", "nested/b.wav", "nested/deeper/f.wav"]


def _upload(folder, url):
    for local, relative in paths.list_files(folder):
        staged.upload(local, paths.join(url, relative))


def _cached_files(cache):
    """{path: inode} of the shard copies in the cache folder `cache`."""
    found = {}
    for root, _, names in os.walk(cache):
        found.update({os.path.join(root, n): os.stat(os.path.join(root, n)).st_ino for n in names})
    return found


def test_codes_source_reads_gs_shards_through_a_checked_cache(one_process, gcs_dir, tmp_path, monkeypatch, capsys):
    """A gs:// shard directory reads as its local copy does; its shards are downloaded once into
    $BIGCODEC_CACHE_DIR and reused, except a copy that no longer matches the object, or an object that changed.
    A download is seen in the log line and as a new file (inode) in the cache."""
    remote, cache = paths.join(gcs_dir, "shards"), str(tmp_path / "cache")
    _upload(one_process, remote)
    monkeypatch.setenv(download_cache.CACHE_ENV, cache)
    shards = len(json.load(open(os.path.join(one_process, "index.json")))["shards"])

    def read_as_local() -> str:
        """Read the gs:// directory, check it against the local one; what it logged."""
        got, want = _records(remote), _records(one_process)
        assert [r["id"] for r in got] == [r["id"] for r in want]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a["codes"], b["codes"])
            assert (a["length"], a["sample_rate"]) == (b["length"], b["sample_rate"])
        return capsys.readouterr().err

    assert f"downloading {shards} of {shards} files" in read_as_local()
    copies = _cached_files(cache)
    assert len(copies) == shards
    assert f"using the cached copies of its {shards} files in {cache}" in read_as_local()
    assert _cached_files(cache) == copies  # a rerun downloads nothing

    truncated, flipped = sorted(copies)[:2]
    with open(truncated, "r+b") as f:  # a partial copy
        f.truncate(os.path.getsize(truncated) // 2)
    data = bytearray(open(flipped, "rb").read())  # a corrupted one, of the right size
    data[len(data) // 2] ^= 0xFF
    open(flipped, "wb").write(bytes(data))
    assert f"downloading 2 of {shards} files" in read_as_local()
    now = _cached_files(cache)
    assert set(now) == set(copies) and {p for p in now if now[p] != copies[p]} == {truncated, flipped}

    first = sorted(n for _, n in paths.list_files(remote) if n.endswith(".array_record"))[0]
    staged.upload(os.path.join(one_process, first), paths.join(remote, first))  # the same bytes: a new generation
    assert f"downloading 1 of {shards} files" in read_as_local()
    latest = _cached_files(cache)
    assert len(latest) == shards and len(set(latest) - set(now)) == 1  # the old version replaced


def test_decode_of_gs_shards_writes_the_same_audio_as_of_local_ones(corpus, one_process, gcs_dir, tmp_path,
                                                                    monkeypatch, capsys):
    remote = paths.join(gcs_dir, "shards")
    _upload(one_process, remote)
    monkeypatch.setenv(download_cache.CACHE_ENV, str(tmp_path / "cache"))
    assert main(["decode", remote, "--output", str(tmp_path / "from_gs"), *FAST]) == 0
    assert main(["decode", one_process, "--output", str(tmp_path / "from_local"), *FAST]) == 0
    assert "downloading" in capsys.readouterr().err
    written = [relative for _, relative in paths.list_files(tmp_path / "from_local")]
    assert len(written) == len(AUDIO) and [r for _, r in paths.list_files(tmp_path / "from_gs")] == written
    for relative in written:
        assert (tmp_path / "from_gs" / relative).read_bytes() == (tmp_path / "from_local" / relative).read_bytes()
