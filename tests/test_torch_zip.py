"""The restricted PyTorch checkpoint reader: refuses code, tolerates harmless objects, reports damage."""
import os
import pickle
import zipfile

import numpy as np
import pytest

from bigcodec_jax.checkpoints import torch_zip
from bigcodec_jax.checkpoints.torch_zip import CheckpointError, OpaqueObject


def zip_with_pickle(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("module,name,arg", [
    ("os", "system", "touch {flag}"),
    ("posix", "system", "touch {flag}"),
    ("subprocess", "call", "touch {flag}"),
    ("builtins", "eval", "open('{flag}', 'w')"),
    ("builtins", "exec", "open('{flag}', 'w')"),
])
def test_code_calling_pickles_are_refused_and_nothing_runs(tmp_path, module, name, arg):
    flag = tmp_path / "ran"
    payload = f"c{module}\n{name}\n(S'{arg.format(flag=flag)}'\ntR.".encode()
    path = zip_with_pickle(tmp_path / "evil.pt", payload)
    with pytest.raises(CheckpointError, match=f"{module}.{name}.*could run code"):
        torch_zip.load(path)
    assert not flag.exists()


def test_unknown_classes_become_inert_placeholders(tmp_path):
    # A hyper-parameter object of a class we do not know (as a Lightning checkpoint may hold).
    payload = b"\x80\x02}(X\x01\x00\x00\x00hcmy_project.config\nTrainConfig\n)\x81}X\x02\x00\x00\x00lrG?\x1a6\xe2\xeb\x1cC-sbu."
    obj = torch_zip.load(zip_with_pickle(tmp_path / "hp.ckpt", payload))
    assert isinstance(obj["h"], OpaqueObject)
    assert obj["h"].qualified_name == "my_project.config.TrainConfig" and obj["h"].state == {"lr": 1e-4}


def test_python2_names_of_builtins_are_mapped_before_the_check(tmp_path):
    """Protocol-2 pickles (omegaconf hyper-parameters in a Lightning checkpoint) write `int` as `__builtin__.long`."""
    payload = pickle.dumps({"type": int, "container": dict}, protocol=2)
    assert b"__builtin__\nlong" in payload
    assert torch_zip.load(zip_with_pickle(tmp_path / "hp.ckpt", payload)) == {"type": int, "container": dict}
    flag = tmp_path / "ran"
    evil = f"c__builtin__\neval\n(S'open(\"{flag}\", \"w\")'\ntR.".encode()
    with pytest.raises(CheckpointError, match="builtins.eval.*could run code"):
        torch_zip.load(zip_with_pickle(tmp_path / "evil.pt", evil))
    assert not flag.exists()


def test_round_trip_of_the_writer(tmp_path):
    rng = np.random.default_rng(0)
    tree = {"a": {"w": rng.standard_normal((3, 4, 5)).astype(np.float32), "i": np.arange(6, dtype=np.int64)},
            "b": {"scalar": np.float32(2.5) * np.ones((), np.float32), "bool": np.array([True, False])}}
    torch_zip.save(tree, tmp_path / "x.pt")
    back = torch_zip.load(tmp_path / "x.pt")
    for section in tree:
        for key, value in tree[section].items():
            assert back[section][key].dtype == value.dtype
            np.testing.assert_array_equal(back[section][key], value)
    with zipfile.ZipFile(tmp_path / "x.pt") as z:  # storages are 64-byte aligned like torch.save's
        for info in z.infolist():
            if "/data/" in info.filename:
                assert (info.header_offset + 30 + len(info.filename) + len(info.extra)) % 64 == 0


def test_truncated_file(tmp_path, reference):
    data = open(reference("micro.pt"), "rb").read()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        torch_zip.load(path)


def test_missing_storage_is_reported(tmp_path, reference):
    src = zipfile.ZipFile(reference("micro.pt"))
    path = tmp_path / "partial.pt"
    with zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            if not info.filename.endswith("/data/3"):
                z.writestr(info, src.read(info))
    with pytest.raises(CheckpointError, match="data/3 is missing"):
        torch_zip.load(path)


@pytest.mark.parametrize("content,message", [
    (b"just some text\n", "not a PyTorch checkpoint"),
    (pickle.dumps({"a": 1}, protocol=2), "legacy"),
])
def test_wrong_file_types(tmp_path, content, message):
    path = tmp_path / "thing.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        torch_zip.load(path)


def test_zip_without_pickle(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="no data.pkl"):
        torch_zip.load(tmp_path / "other.zip")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        torch_zip.load(os.path.join(tmp_path, "nope.pt"))
