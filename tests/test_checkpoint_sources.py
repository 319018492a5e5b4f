"""Checkpoint sources beyond .pt: safetensors files with the official tensor names (round trips, parity on the
golden data) and model-hub ids resolved offline through a Hugging Face cache laid out on disk by the test.
Nothing here reaches the network: every hub test runs with huggingface_hub's offline mode on."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from bigcodec_jax import BigCodec
from bigcodec_jax.checkpoints import hub, official, pretrained, safetensors_format, torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError
from bigcodec_jax.convert import main as convert_main
from conftest import reference_path, relative_error

BIGCODEC = os.path.join(os.path.dirname(sys.executable), "bigcodec")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def assert_same_sections(a, b):
    assert sorted(a) == sorted(b)
    for section in a:
        assert sorted(a[section]) == sorted(b[section]), section
        for key, value in a[section].items():
            other = b[section][key]
            assert other.dtype == value.dtype and other.shape == value.shape, f"{section}.{key}"
            np.testing.assert_array_equal(other, value, err_msg=f"{section}.{key}")


@pytest.mark.parametrize("name", ["mini_default.pt", "tiny_train_lightning.ckpt"])
def test_safetensors_round_trip_is_identical(name, tmp_path):
    """.pt / .ckpt -> .safetensors holds the released state dicts tensor for tensor and the model config;
    .safetensors -> .safetensors gives the same bytes; the official names are the file's tensor names."""
    source = reference_path(name)
    assert convert_main(["--to-safetensors", source, str(tmp_path / "a.safetensors")]) == 0
    sections = pretrained.read_sections(source)  # a Lightning file's model.* tensors, by section
    config = official.infer_config(sections).to_dict()
    assert_same_sections(sections, safetensors_format.read_sections(tmp_path / "a.safetensors"))
    with safe_open(str(tmp_path / "a.safetensors"), "np") as f:
        assert sorted(f.keys()) == sorted(f"{s}.{k}" for s, sd in sections.items() for k in sd)
        metadata = f.metadata()
        assert metadata.pop("format") == "pt" and json.loads(metadata.pop(official.CONFIG_KEY)) == config
        assert not metadata
    assert {"CodecEnc", "generator", "discriminator", "spec_discriminator"} == set(sections)
    assert convert_main(["--to-safetensors", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors")]) == 0
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    assert convert_main(["--to-torch", str(tmp_path / "b.safetensors"), str(tmp_path / "back.pt")]) == 0
    back = torch_zip.load(tmp_path / "back.pt")
    assert json.loads(back.pop(official.CONFIG_KEY)) == config
    assert_same_sections(sections, back)


def test_safetensors_codec_matches_the_golden_data(tmp_path):
    """from_pretrained reads a .safetensors file (any name) into the same parameters as the .pt, which give the
    official model's codes and audio."""
    source = reference_path("official_debug.pt")
    convert_main(["--to-safetensors", source, str(tmp_path / "weights.bin")])  # recognised by content, not name
    config, params = pretrained.load(tmp_path / "weights.bin")
    want_config, want = pretrained.load(source)
    assert config.to_dict() == want_config.to_dict()
    assert jax.tree.structure(params) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want)):
        np.testing.assert_array_equal(a, b)
    golden = np.load(reference_path("official_debug.npz"))
    codec = BigCodec.from_pretrained(tmp_path / "weights.bin")
    codes = codec.encode(golden["wav"])
    np.testing.assert_array_equal(codes, np.transpose(golden["codes"], (1, 0, 2)))
    assert relative_error(codec.decode(codes, length=golden["wav"].shape[-1]), golden["recon_from_codes"]) < 1e-4


def test_foreign_safetensors_files_are_refused(tmp_path):
    save_file({"encoder.weight": np.zeros(3, np.float32)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not a BigCodec safetensors file: no CodecEnc or generator tensors"):
        pretrained.load(tmp_path / "other.safetensors")
    sections = pretrained.read_sections(reference_path("official_debug.pt"))
    sections["generator"]["extra"] = np.zeros(1, np.float32)
    safetensors_format.save(sections, tmp_path / "extra.safetensors")
    with pytest.raises(CheckpointError, match="unexpected keys: generator.extra"):
        pretrained.load(tmp_path / "extra.safetensors")


# ------------------------------------------------------------------------------------------------- hub ids

def lay_out_hub_cache(cache, repo, files, refs=("main",)):
    """A huggingface_hub cache as the library writes it: blobs named by content hash, a snapshot per commit
    whose files link to the blobs, and refs naming the commit."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    for sub in ("blobs", f"snapshots/{COMMIT}", "refs"):
        os.makedirs(folder / sub, exist_ok=True)
    for name, source in files.items():
        digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
        shutil.copyfile(source, folder / "blobs" / digest)
        os.symlink(f"../../blobs/{digest}", folder / "snapshots" / COMMIT / name)
    for ref in refs:
        (folder / "refs" / ref).write_text(COMMIT)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An offline hub cache holding Alethia/BigCodec (bigcodec.pt = official_debug, and its .safetensors;
    refs main and v1.0), in huggingface_hub's settings for this process."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    convert_main(["--to-safetensors", reference_path("official_debug.pt"), str(tmp_path / "w.safetensors")])
    lay_out_hub_cache(cache, "Alethia/BigCodec", {"bigcodec.pt": reference_path("official_debug.pt"),
                                                  "bigcodec.safetensors": tmp_path / "w.safetensors"},
                      refs=("main", "v1.0"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("source, parsed", [
    ("Alethia/BigCodec", ("Alethia/BigCodec", None)),
    ("Alethia/BigCodec@v1.0", ("Alethia/BigCodec", "v1.0")),
    (f"owner/name.v2@{COMMIT}", ("owner/name.v2", COMMIT)),
    ("ckpts/model.pt", None), ("ckpts/model.safetensors", None),  # checkpoint files, not repositories
    ("./Alethia/BigCodec", None), ("/abs/path", None), ("a/b/c", None), ("bigcodec.pt", None), ("~/x", None),
])
def test_what_reads_as_a_hub_id(source, parsed):
    assert hub.parse(source) == parsed


def test_hub_ids_resolve_offline_through_the_cache(offline_hub):
    official = pretrained.load(reference_path("official_debug.pt"))[1]
    for source, filename in [("Alethia/BigCodec", None), ("Alethia/BigCodec@v1.0", None),
                             (f"Alethia/BigCodec@{COMMIT}", None), ("Alethia/BigCodec", "bigcodec.safetensors")]:
        path = pretrained.resolve(source, filename)
        assert path.startswith(str(offline_hub / "models--Alethia--BigCodec" / "snapshots" / COMMIT)), path
        params = pretrained.load(source, filename)[1]
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(official)):
            np.testing.assert_array_equal(a, b)
    assert BigCodec.from_pretrained("Alethia/BigCodec").num_quantizers == 8


def test_unknown_hub_ids_fail_in_one_line_when_offline(offline_hub):
    for source, filename in [("Alethia/Nothing", None), ("Alethia/BigCodec@v9", None), ("Alethia/BigCodec", "x.pt")]:
        with pytest.raises(CheckpointError) as info:
            BigCodec.from_pretrained(source, filename=filename)
        message = str(info.value)
        assert "\n" not in message and message.startswith(source.split("@")[0])
        assert f"is not in the Hugging Face cache ({offline_hub}) and HF_HUB_OFFLINE is set" in message
    with pytest.raises(CheckpointError, match=r"^ckpts/model.pt: no such file or directory"):
        pretrained.load("ckpts/model.pt")


def test_an_existing_local_path_wins_over_a_hub_id(offline_hub, tmp_path, monkeypatch):
    os.makedirs(tmp_path / "Alethia" / "BigCodec")
    shutil.copyfile(reference_path("tiny_train.pt"), tmp_path / "Alethia" / "BigCodec" / "bigcodec.pt")
    monkeypatch.chdir(tmp_path)
    config, _ = pretrained.load("Alethia/BigCodec", filename="bigcodec.pt")  # the local folder, not the cache
    assert config.decoder.vq_num_quantizers == 2 and config.decoder.codebook_size == 256


def test_without_huggingface_hub_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(CheckpointError, match=r"not a local path; .* pip install 'bigcodec-jax\[hub\]'"):
        pretrained.load("Alethia/BigCodec")


def test_the_command_honours_the_hub_environment(tmp_path):
    """A real process: HF_HUB_CACHE and HF_HUB_OFFLINE from the environment, as users set them."""
    lay_out_hub_cache(tmp_path / "hub", "Alethia/BigCodec", {"bigcodec.pt": reference_path("official_debug.pt")})
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1")
    ok = subprocess.run([BIGCODEC, "convert", "--to-safetensors", "Alethia/BigCodec", str(tmp_path / "w.safetensors")],
                        capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert_same_sections(torch_zip.load(reference_path("official_debug.pt")),
                         safetensors_format.read_sections(tmp_path / "w.safetensors"))
    unknown = subprocess.run([BIGCODEC, "convert", "Alethia/Nothing", str(tmp_path / "out")],
                             capture_output=True, text=True, env=env, timeout=300)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        f"error: Alethia/Nothing: bigcodec.pt is not in the Hugging Face cache ({tmp_path / 'hub'}) and "
        "HF_HUB_OFFLINE is set; download it once online, or pass a local path"]
