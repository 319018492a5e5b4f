"""Damaged checkpoints are refused at load in one line naming what is wrong, in every format (issue 28):
weights that are not finite (the tensor named), a malformed embedded model config (the field named) and a
safetensors file whose header is broken (what is wrong with the header, not "not a PyTorch checkpoint").
Every case runs `convert_torch_ckpt.py` in-process: the status it returns is the process's exit status."""
import json
import shutil
import struct

import numpy as np
import pytest

from bigcodec_jax import errors
from bigcodec_jax.codec import config as config_lib
from bigcodec_jax.checkpoints import official, pretrained, safetensors_format, store, torch_zip
from bigcodec_jax.checkpoints.layout import entries
from bigcodec_jax.convert import main as convert_main
from conftest import COMMITTED_SET, reference_path

MICRO = reference_path(COMMITTED_SET + ".pt")
SPOILED = "generator.quantizer.layers.0._codebook.weight"  # the tensor given a NaN or an infinity


@pytest.fixture(scope="module")
def micro():
    """(the micro set's state dicts, its model config)."""
    sections = pretrained.read_sections(MICRO)
    return sections, official.infer_config(sections)


def write(form: str, sections, config_json: str | None, folder) -> str:
    """`sections` (and the model config) as a checkpoint of the given form; its path."""
    if form == "pt":
        path = str(folder / "model.pt")
        torch_zip.save({**sections, **({official.CONFIG_KEY: config_json} if config_json else {})}, path)
    elif form == "ckpt":  # the official Lightning trainer's layout
        path = str(folder / "last.ckpt")
        torch_zip.save({"state_dict": {f"model.{s}.{k}": v for s, sd in sections.items() for k, v in sd.items()},
                        "epoch": 3}, path)
    elif form == "safetensors":
        path = str(folder / "model.safetensors")
        safetensors_format.save(sections, path, config_json)
    else:
        path = str(folder / "converted")
        store.save(path, *official.torch_to_flax(sections))
        if config_json is not None:
            (folder / "converted" / store.CONFIG_FILE).write_text(config_json)
    return path


def refused(path: str, tmp_path, capsys, *words: str) -> str:
    """Convert `path`: exit status 1, one `error:` line naming the file and holding `words`, nothing written."""
    status = convert_main([path, str(tmp_path / "out")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == errors.FAILED and len(lines) == 1 and lines[0].startswith("error: "), (status, lines)
    for word in (path, *words):
        assert word in lines[0], (word, lines[0])
    assert not (tmp_path / "out").exists()
    return lines[0]


# ----------------------------------------------------------------------------------- non-finite weights

@pytest.mark.parametrize("form, value", [("pt", np.nan), ("ckpt", np.inf), ("safetensors", -np.inf),
                                         ("converted", np.nan)])
def test_weights_that_are_not_finite_are_refused_naming_the_tensor(micro, tmp_path, capsys, form, value):
    sections, config = micro
    spoiled = {s: dict(sd) for s, sd in sections.items()}
    section, key = SPOILED.split(".", 1)
    spoiled[section][key] = spoiled[section][key].copy()
    spoiled[section][key][0, :3] = value
    path = write(form, spoiled, config_lib.to_json(config) if form == "safetensors" else None, tmp_path)
    (entry,) = [e for e in entries(config) if e.torch_name == SPOILED]
    refused(path, tmp_path, capsys, "tensor " + "/".join(entry.path), "has 3 NaN or infinite values")


# ---------------------------------------------------------------------------- malformed embedded configs

def _edited(config: dict, edit) -> str:
    config = json.loads(json.dumps(config))
    edit(config)
    return json.dumps(config)


BAD_CONFIGS = [  # (the embedded config, given the micro set's as a dict; words of the error)
    (lambda c: "{not json", "not valid JSON"),
    (lambda c: "[1, 2]", "a JSON object of the fields encoder, decoder, mpd, mstft is expected, got [1, 2]"),
    (lambda c: json.dumps({"learning_rate": 0.1}), "learning_rate: is not a field of the model config"),
    (lambda c: _edited(c, lambda d: d.pop("decoder")), "decoder: is missing"),
    (lambda c: _edited(c, lambda d: d["decoder"].__setitem__("codebook_size", -3)),
     "decoder.codebook_size: must be an integer from 1 to 1,048,576, got -3"),
    (lambda c: _edited(c, lambda d: d["encoder"].__setitem__("ngf", 0)), "encoder.ngf: must be an integer from 1 to 1,048,576, got 0"),
    (lambda c: _edited(c, lambda d: d["decoder"].__setitem__("codebook_dim", 2 ** 31)),
     "decoder.codebook_dim: must be an integer from 1 to 1,048,576, got 2147483648"),
    (lambda c: _edited(c, lambda d: d["encoder"].__setitem__("up_ratios", "2,4,5,5")),
     "encoder.up_ratios: must be a list of at most 64 integers from 1 to 1,048,576, got '2,4,5,5'"),
    (lambda c: _edited(c, lambda d: d["decoder"].__setitem__("rnn_num_layers", 1000)),
     "decoder.rnn_num_layers: must be an integer from 0 to 64, got 1000"),
    (lambda c: _edited(c, lambda d: d["encoder"].__setitem__("use_rnn", "yes")),
     "encoder.use_rnn: must be true or false"),
    (lambda c: _edited(c, lambda d: d.__setitem__("mpd", None)), "mpd: must be an object of fields, got None"),
]


@pytest.mark.parametrize("form", ["pt", "safetensors", "converted"])
def test_a_malformed_embedded_config_is_one_line_naming_the_field(micro, tmp_path, capsys, form):
    sections, config = micro
    config = config.to_dict()
    path = write(form, sections, json.dumps(config), tmp_path)
    original = tmp_path / "original"
    shutil.move(path, original)
    for make, words in BAD_CONFIGS:
        shutil.rmtree(path, ignore_errors=True)
        if form == "converted":
            shutil.copytree(original, path)
            (tmp_path / "converted" / store.CONFIG_FILE).write_text(make(config))
        else:
            write(form, sections, make(config), tmp_path)
        refused(path, tmp_path, capsys, "invalid model config: " + words)


def test_a_huge_size_in_an_embedded_config_is_a_mismatch_not_out_of_memory(micro, tmp_path, capsys):
    """The tensor shapes the config implies are compared without arrays of those shapes."""
    sections, config = micro
    config = config.to_dict()
    config["encoder"]["ngf"] = 2 ** 20
    safetensors_format.save(sections, tmp_path / "model.safetensors", json.dumps(config))
    refused(str(tmp_path / "model.safetensors"), tmp_path, capsys, "does not match the BigCodec model: ", "shape mismatches: ",
            "model (1048576, 1, 1)")


def test_a_checkpoint_key_that_is_not_a_config_is_refused(micro, tmp_path, capsys):
    sections, _ = micro
    torch_zip.save({**sections, official.CONFIG_KEY: 5}, tmp_path / "model.pt")
    refused(str(tmp_path / "model.pt"), tmp_path, capsys, f"(key {official.CONFIG_KEY}): invalid model config",
            "got 5")


# ------------------------------------------------------------------------------ safetensors headers

@pytest.mark.parametrize("name", ["model.safetensors", "weights.bin"])  # recognised by name or by header
@pytest.mark.parametrize("spoil, words", [
    (lambda data: struct.pack("<Q", 2 ** 62) + data[8:],
     "its header length says 4,611,686,018,427,387,904 bytes, more than the 104,857,600 safetensors allows"),
    (lambda data: struct.pack("<Q", len(data) - 7) + data[8:], "its header length says"),
    (lambda data: data[:1000], "bytes but the file holds 992 after it"),  # truncated inside the header
    (lambda data: struct.pack("<Q", 8) + b'{"a": 1,' + data[8:], "its 8-byte header is not JSON"),
])
def test_a_broken_safetensors_header_is_said(micro, tmp_path, capsys, name, spoil, words):
    sections, config = micro
    safetensors_format.save(sections, tmp_path / "good.safetensors", config_lib.to_json(config))
    (tmp_path / name).write_bytes(spoil((tmp_path / "good.safetensors").read_bytes()))
    message = refused(str(tmp_path / name), tmp_path, capsys, "is not a readable safetensors file: ", words)
    assert "PyTorch" not in message


@pytest.mark.parametrize("content, words", [
    (b"abc", "it has 3 bytes, fewer than the 8 of the header length"),
    (struct.pack("<Q", 6) + b"[1, 2]", "its header is JSON but not an object ('[1, 2]')"),
])
def test_a_file_named_safetensors_is_read_as_one(tmp_path, capsys, content, words):
    (tmp_path / "model.safetensors").write_bytes(content)
    refused(str(tmp_path / "model.safetensors"), tmp_path, capsys, "is not a readable safetensors file: ", words)
