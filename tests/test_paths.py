"""bigcodec_jax.io's paths and staged writes on a local disk and on gs:// (the GCS emulator), with the same
expectations for both."""
import os
import subprocess
import sys
import time

import pytest

from bigcodec_jax.io import download_cache, paths, staged


@pytest.fixture(params=["local", "gs"])
def root(request, tmp_path):
    """An empty folder: a local one, or a fresh gs:// prefix in the emulator."""
    if request.param == "local":
        return str(tmp_path / "root")
    return request.getfixturevalue("gcs_dir")


def test_write_read_list_and_remove(root):
    assert not paths.exists(root)
    paths.makedirs(root)
    staged.write_text(paths.join(root, "b", "two.txt"), "two")
    staged.write_bytes(paths.join(root, "a.txt"), b"one")
    staged.write_text(paths.join(root, "b", "c", "three.txt"), "three")
    staged.write_text(paths.join(root, ".hidden", "x.txt"), "not listed")
    staged.write_text(paths.join(root, "b", ".partial-1.txt"), "not listed")

    assert paths.isdir(root) and paths.isdir(paths.join(root, "b")) and not paths.isfile(paths.join(root, "b"))
    assert paths.isfile(paths.join(root, "a.txt")) and not paths.isdir(paths.join(root, "a.txt"))
    assert not paths.exists(paths.join(root, "nothing.txt"))
    assert paths.read_text(paths.join(root, "b", "c", "three.txt")) == "three"
    assert paths.read_bytes(paths.join(root, "a.txt")) == b"one"
    with paths.open_file(paths.join(root, "b", "two.txt")) as f:
        f.seek(1)
        assert f.read() == b"wo"
    assert paths.listdir(root) == [".hidden", "a.txt", "b"]
    listed = paths.list_files(root)
    assert [rel for _, rel in listed] == ["a.txt", "b/two.txt", "b/c/three.txt"]  # as sorted(os.walk) gives them
    assert [paths.read_text(p) for p, _ in listed] == ["one", "two", "three"]
    assert paths.list_files(paths.join(root, "b") + "/") == [
        (paths.join(root, "b", "two.txt"), "two.txt"), (paths.join(root, "b", "c", "three.txt"), "c/three.txt")]

    paths.remove(paths.join(root, "a.txt"))
    paths.remove(paths.join(root, "a.txt"))  # a missing file is fine
    assert not paths.exists(paths.join(root, "a.txt"))


def test_staged_file_appears_whole_or_not_at_all(root):
    target = paths.join(root, "out", "x.wav")
    with pytest.raises(RuntimeError):
        with staged.staged_file(target) as local:
            assert local.endswith(".wav") and not paths.is_remote(local)
            with open(local, "wb") as f:
                f.write(b"half")
            raise RuntimeError("crash while writing")
    assert not paths.exists(target)
    assert paths.list_files(root) == []  # no partial file left behind either

    with staged.staged_file(target) as local:
        with open(local, "wb") as f:
            f.write(b"whole")
        assert not paths.exists(target)  # nothing visible before the block ends
    assert paths.read_bytes(target) == b"whole"
    staged.write_text(target, "replaced")
    assert paths.read_text(target) == "replaced"


def test_staged_folder_uploads_everything_on_success_only(root):
    out = paths.join(root, "report")
    with pytest.raises(ValueError):
        with staged.staged_folder(out) as folder:
            with open(os.path.join(folder, "a.txt"), "w") as f:
                f.write("a")
            raise ValueError("failed")
    assert paths.is_remote(out) != paths.exists(out)  # a local folder is written in place; nothing is uploaded
    with staged.staged_folder(out, last=("page.html",)) as folder:
        os.makedirs(os.path.join(folder, "examples"))
        for rel in ("page.html", "a.txt", "examples/x.wav"):
            with open(os.path.join(folder, rel), "w") as f:
                f.write(rel)
    assert [(paths.read_text(p), rel) for p, rel in paths.list_files(out)] == [
        ("a.txt", "a.txt"), ("page.html", "page.html"), ("examples/x.wav", "examples/x.wav")]


def test_local_copy_and_readable(root):
    target = paths.join(root, "data.bin")
    staged.write_bytes(target, b"\x00\x01payload")
    with download_cache.local_copy(target) as local:
        assert not paths.is_remote(local) and local.endswith("data.bin")
        with open(local, "rb") as f:
            assert f.read() == b"\x00\x01payload"
    if paths.is_remote(target):
        assert not os.path.exists(local)  # the download is removed afterwards
        assert paths.readable(target).read() == b"\x00\x01payload"
    else:
        assert local == target and paths.readable(target) == target


def test_path_names():
    assert paths.is_remote("gs://b/x") and paths.is_remote("memory://x") and not paths.is_remote("/a/gs://b")
    assert paths.join("gs://b/run", "checkpoints", "3") == "gs://b/run/checkpoints/3"
    assert paths.parent("gs://b/run/config.json") == "gs://b/run" and paths.parent("gs://b/run/") == "gs://b"
    assert paths.name("gs://b/run/x.wav") == "x.wav" and paths.name("gs://b/run/") == "run"
    assert paths.absolute("gs://b/run") == "gs://b/run" and paths.absolute("run") == os.path.abspath("run")


def test_unsupported_scheme_is_one_sentence():
    with pytest.raises((ImportError, ValueError), match=r"nosuchscheme://"):
        paths.exists("nosuchscheme://bucket/x")


def test_local_paths_import_nothing_remote(tmp_path):
    """Local runs never pay for importing fsspec or gcsfs."""
    code = ("import sys; from bigcodec_jax.io import audio_files, download_cache, inputs, outputs, paths, staged, "
            "synced_folder; from bigcodec_jax.checkpoints import pretrained; "
            f"staged.write_text({str(tmp_path / 'a.txt')!r}, 'x'); paths.list_files({str(tmp_path)!r}); "
            "print(sorted(m for m in ('fsspec', 'gcsfs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("where", ["input", "output"])
def test_an_unreachable_store_is_one_line_naming_the_url_within_seconds(tmp_path, where):
    """gs:// with nothing answering (a closed local port for the endpoint): gcsfs retries each request for
    about 35 s and logs a traceback each time; the command says which URL in one line, within about 30 s."""
    pytest.importorskip("gcsfs")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"")  # never read: the store is asked first
    url = "gs://bucket/in.wav" if where == "input" else "gs://bucket/out"
    source, output = (url, str(tmp_path / "out")) if where == "input" else (str(audio), url)
    env = dict(os.environ, STORAGE_EMULATOR_HOST=f"http://127.0.0.1:{port}", JAX_PLATFORMS="cpu")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "inference.py", "encode", source, "--output", output, "--checkpoint",
                             os.path.join(root, "tests", "golden", "micro.pt")], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    took = time.monotonic() - start
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.startswith(f"error: {url}: no answer from the storage service within") \
        and result.stderr.count("\n") == 1, result.stderr[-3000:]
    assert took < paths.ANSWER_SECONDS + 40  # the limit on the question, and a start-up on a busy machine
