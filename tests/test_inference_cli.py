"""inference.py on a generated folder: mirrored outputs, bad files reported, resume, codes files."""
import glob
import os

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax import BigCodec, errors
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.inference.batch_codec import BatchCodec
from bigcodec_jax.inference.cli import main
from bigcodec_jax.io import codes_files
from bigcodec_jax.io import staged
from conftest import COMMITTED_SET, reference_path

CKPT = reference_path(COMMITTED_SET + ".pt")
FAST = ["--checkpoint", CKPT, "--batch-size", "2", "--window", "1"]  # shapes shared with the other inference tests

# name -> (samples, rate, channels): mixed rates, stereo, nested folders, two files longer than the window
AUDIO = {"a.wav": (3333, 16000, 1), "nested/b.flac": (2205, 22050, 2), "nested/deeper/c.wav": (4000, 8000, 1),
         "d.flac": (30000, 44100, 2), "long.wav": (40000, 16000, 1), "nested/long2.flac": (27000, 16000, 1)}
EXPECTED_SAMPLES = {"a": 3333, "nested/b": 1600, "nested/deeper/c": 8000, "d": 10885, "long": 40000,
                    "nested/long2": 27000}


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, (samples, rate, channels) in AUDIO.items():
        os.makedirs(os.path.dirname(tmp_path / "in" / name), exist_ok=True)
        sf.write(tmp_path / "in" / name, (0.1 * rng.standard_normal((samples, channels))).astype(np.float32), rate)
    (tmp_path / "in" / "broken.wav").write_text("not audio")
    sf.write(tmp_path / "in" / "nested" / "empty.wav", np.zeros(0, np.float32), 16000)
    return tmp_path


def outputs(root, suffix):
    return sorted(os.path.relpath(p, root)[: -len(suffix)] for p in glob.glob(f"{root}/**/*{suffix}", recursive=True))


def test_encode_decode_reconstruct(folder, capsys):
    src, codes, dec, rec = (str(folder / d) for d in ("in", "codes", "dec", "rec"))
    assert main(["encode", src, "--output", codes, *FAST]) == 1
    out = capsys.readouterr()
    assert "broken.wav" in out.err and "empty.wav" in out.err
    assert "6 written, 0 already done, 2 failed" in out.out
    assert outputs(codes, ".codes.npz") == sorted(EXPECTED_SAMPLES)
    assert main(["decode", codes, "--output", dec, *FAST]) == 0
    assert main(["reconstruct", src, "--output", rec, *FAST]) == 1
    codec = BigCodec.from_pretrained(CKPT)
    for stem, samples in EXPECTED_SAMPLES.items():
        decoded, rate = sf.read(f"{dec}/{stem}.wav")
        reconstructed, _ = sf.read(f"{rec}/{stem}.wav")
        assert rate == 16000 and len(decoded) == samples == len(reconstructed)
        np.testing.assert_allclose(decoded, reconstructed, atol=1e-4)
        data = np.load(f"{codes}/{stem}.codes.npz")
        assert int(data["format_version"]) == 2 and int(data["length"]) == samples
        assert data["codes"].shape == (2, codec.num_frames(samples))
    data = np.load(f"{codes}/d.codes.npz")
    assert int(data["sample_rate"]) == 44100 and str(data["fingerprint"]) == codes_files.fingerprint(codec.params)
    capsys.readouterr()
    assert main(["decode", codes, "--output", dec, *FAST]) == 0
    assert "0 written, 6 already done, 0 failed" in capsys.readouterr().out


def test_a_file_list_names_files_relative_to_itself_and_may_hold_comments(folder, capsys, monkeypatch):
    listing = folder / "in" / "nested" / "files.lst"
    listing.write_text("# two files and a missing one\n\nb.flac|some text\n../a.wav\n#deeper/c.wav\ngone.wav\n")
    monkeypatch.chdir(folder)  # not the list's folder
    assert main(["encode", str(listing), "--output", str(folder / "codes"), *FAST]) == errors.FAILED
    out = capsys.readouterr()
    assert "Traceback" not in out.err and f"failed: {folder / 'in' / 'nested' / 'gone.wav'}: no such file" in out.err
    assert "2 written, 0 already done, 1 failed" in out.out
    assert outputs(str(folder / "codes"), ".codes.npz") == ["a", "b"]


def test_an_interrupted_run_resumes(folder, capsys, monkeypatch):
    src, codes = str(folder / "in"), str(folder / "codes")
    original, calls = BatchCodec.start_encode, []

    def interrupt_third_batch(self, wavs):  # batch 2 is started before batch 1 is written, then batch 3
        calls.append(len(wavs))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, wavs)

    monkeypatch.setattr(BatchCodec, "start_encode", interrupt_third_batch)
    assert main(["encode", src, "--output", codes, *FAST]) == errors.INTERRUPTED
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("interrupted (Ctrl-C): ") and "Traceback" not in err
    done = outputs(codes, ".codes.npz")
    assert len(done) == calls[0] == 2  # the first batch was written before the interruption, the second lost
    assert not glob.glob(f"{codes}/**/.partial-*", recursive=True)
    monkeypatch.setattr(BatchCodec, "start_encode", original)
    first = {stem: np.load(f"{codes}/{stem}.codes.npz")["codes"] for stem in done}
    capsys.readouterr()
    assert main(["encode", src, "--output", codes, *FAST]) == 1
    assert "4 written, 2 already done, 2 failed" in capsys.readouterr().out
    assert outputs(codes, ".codes.npz") == sorted(EXPECTED_SAMPLES)
    assert main(["encode", src, "--output", codes, "--overwrite", *FAST]) == 1
    for stem, c in first.items():  # redone from scratch: the same codes
        np.testing.assert_array_equal(np.load(f"{codes}/{stem}.codes.npz")["codes"], c)


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(OSError), staged.staged_file(str(tmp_path / "out" / "x.wav")) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")
    assert os.listdir(tmp_path / "out") == []


def test_packed_codes_read_back_the_same(folder):
    src = str(folder / "in")
    main(["encode", src, "--output", str(folder / "plain"), *FAST])
    main(["encode", src, "--output", str(folder / "packed"), "--pack", *FAST])
    fingerprint = codes_files.fingerprint(BigCodec.from_pretrained(CKPT).params)
    for stem, samples in EXPECTED_SAMPLES.items():
        plain = np.load(folder / "plain" / f"{stem}.codes.npz")
        packed = np.load(folder / "packed" / f"{stem}.codes.npz")
        assert "codes" not in packed and int(packed["code_bits"]) == 8  # 256 entries
        assert packed["packed_codes"].nbytes == plain["codes"].size  # one byte per code instead of two
        a, b = (codes_files.load(str(folder / d / f"{stem}.codes.npz"), fingerprint) for d in ("plain", "packed"))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1] == samples


@pytest.mark.parametrize("bits", [1, 8, 10, 13, 16])
def test_pack_round_trip(bits):
    codes = np.random.default_rng(bits).integers(0, 2 ** bits, (3, 1001))
    packed = codes_files.pack(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == -(-codes.size * bits // 8)
    np.testing.assert_array_equal(codes_files.unpack(packed, bits, codes.shape), codes)


def test_released_codec_codes_pack_to_1040_bits_per_second():
    assert codes_files.code_bits(8192) == 13
    one_second = np.full((1, 80), 8191)
    assert codes_files.pack(one_second, 13).nbytes * 8 == 1040


def test_codes_from_another_model_are_refused(folder, capsys):
    main(["encode", str(folder / "in" / "a.wav"), str(folder / "in" / "nested" / "b.flac"), "--output",
          str(folder / "codes"), *FAST])
    other = reference_path(COMMITTED_SET + "_lightning.ckpt")  # same config, trained two steps further
    args = ["decode", str(folder / "codes"), "--output", str(folder / "dec"), *FAST[2:], "--checkpoint", other]
    assert main(args) == 1
    assert "made by another model" in capsys.readouterr().err


def test_codes_file_versions(tmp_path):
    np.savez(tmp_path / "x.codes.npz", format_version=99, codes=np.zeros((1, 2)), fingerprint="f")
    with pytest.raises(ValueError, match="format 99 is not supported"):
        codes_files.load(str(tmp_path / "x.codes.npz"), "f")
    (tmp_path / "junk.codes.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a codes file"):
        codes_files.load(str(tmp_path / "junk.codes.npz"), "f")
    v1 = dict(format_version=1, codes=np.array([[1, 2, 3], [4, 5, 6]], np.int16), length=550, sample_rate=8000,
              config=config_lib.to_json(config_lib.model_config("tiny_train")), fingerprint="f")
    np.savez(tmp_path / "v1.codes.npz", **v1)  # the layout written by the first release
    codes, length = codes_files.load(str(tmp_path / "v1.codes.npz"), "f")
    assert codes.dtype == np.int32 and codes.tolist() == [[1, 2, 3], [4, 5, 6]] and length == 550


def test_help_explains_every_option(capsys):
    assert main(["encode", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--checkpoint", "--output", "--batch-size", "--dtype", "--devices", "--window", "--workers",
                   "--overwrite", "--pack"):
        assert option in text


def test_a_rerun_loads_its_compiled_shapes_from_the_persistent_cache(tmp_path):
    """inference.py keeps what it compiles in $BIGCODEC_CACHE_DIR/jax-compilation-cache (no cache chosen by the user):
    a second run over the same shapes, in a new process, adds nothing to it (every shape is loaded)."""
    import subprocess
    import sys

    sf.write(tmp_path / "a.wav", (0.1 * np.random.default_rng(0).standard_normal(5000)).astype(np.float32), 16000)
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env.update(BIGCODEC_CACHE_DIR=str(tmp_path / "cache"), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    cache = tmp_path / "cache" / "jax-compilation-cache"

    def run(output):
        done = subprocess.run([sys.executable, "inference.py", "reconstruct", str(tmp_path / "a.wav"), "--output",
                               str(tmp_path / output), *FAST], env=env, capture_output=True, text=True, timeout=600,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert done.returncode == 0, done.stderr[-3000:]
        assert os.path.exists(tmp_path / output / "a.wav")
        return sorted(os.listdir(cache))

    first = run("first")
    assert any(name.startswith("jit_codec_pass") for name in first), first
    assert run("second") == first
