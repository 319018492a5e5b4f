"""inference.py on a generated folder: mirrored outputs, bad files reported, resume, model fingerprint."""
import os

import numpy as np
import pytest
import soundfile as sf

from bigcodec_jax.inference import codes_file
from bigcodec_jax.inference.cli import main
from conftest import reference_path


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    (src / "nested").mkdir(parents=True)
    rng = np.random.default_rng(0)
    sf.write(src / "a.wav", (0.1 * rng.standard_normal(3333)).astype(np.float32), 16000)
    sf.write(src / "nested" / "b.flac", (0.1 * rng.standard_normal((2205, 2))).astype(np.float32), 22050)
    (src / "broken.wav").write_text("not audio")
    return tmp_path


def test_encode_decode_reconstruct(folder, capsys):
    ckpt = reference_path("tiny_train.pt")
    src = str(folder / "in")
    assert main(["encode", src, "--checkpoint", ckpt, "--output", str(folder / "codes")]) == 1
    out = capsys.readouterr()
    assert "broken.wav" in out.err and "2 written, 0 already done, 1 failed" in out.out
    assert os.path.exists(folder / "codes" / "nested" / "b.codes.npz")
    assert main(["decode", str(folder / "codes"), "--checkpoint", ckpt, "--output", str(folder / "dec")]) == 0
    assert main(["reconstruct", src, "--checkpoint", ckpt, "--output", str(folder / "rec")]) == 1
    for rel, samples in (("a.wav", 3333), (os.path.join("nested", "b.wav"), 1600)):
        decoded, rate = sf.read(folder / "dec" / rel)
        rec, _ = sf.read(folder / "rec" / rel)
        assert rate == 16000 and len(decoded) == samples == len(rec)
        np.testing.assert_allclose(decoded, rec, atol=1e-4)
    capsys.readouterr()
    assert main(["decode", str(folder / "codes"), "--checkpoint", ckpt, "--output", str(folder / "dec")]) == 0
    assert "0 written, 2 already done, 0 failed" in capsys.readouterr().out


def test_codes_from_another_model_are_refused(folder, capsys):
    main(["encode", str(folder / "in" / "a.wav"), "--checkpoint", reference_path("tiny_train.pt"),
          "--output", str(folder / "codes")])
    other = reference_path("tiny_train_lightning.ckpt")  # same config, trained two steps further
    assert main(["decode", str(folder / "codes"), "--checkpoint", other, "--output", str(folder / "dec")]) == 1
    assert "made by another model" in capsys.readouterr().err


def test_codes_file_version_is_checked(tmp_path):
    np.savez(tmp_path / "x.codes.npz", format_version=99, codes=np.zeros((1, 2)), fingerprint="f")
    with pytest.raises(ValueError, match="format 99 is not supported"):
        codes_file.load(str(tmp_path / "x.codes.npz"), "f")
