"""Model-hub ids (`owner/name[@revision]`), resolved to a local file through `huggingface_hub`.

Which sources are hub ids (`pretrained.load` asks only about sources that do not exist on disk, so an
existing local path always wins):
- `owner/name` or `owner/name@revision` (a branch, tag or commit), exactly one `/`;
- owner and name made of letters, digits, `.`, `_` and `-`, starting with a letter or digit;
- the name not ending in a checkpoint suffix (`.pt`, `.pth`, `.ckpt`, `.safetensors`), so a mistyped
  `ckpts/model.pt` is reported as a missing file, not looked up on the hub.
Write `./owner/name` to mean a local folder that does not exist yet.

Which file of a repository: `filename` when given, else the released weights of the repositories below
(`REPOSITORY_FILES`: X-Codec2, its transformers port, NeuCodec, w2v-BERT 2.0) and `bigcodec.pt` otherwise;
files named beside them there (a `config.json`) are fetched too, into the same snapshot folder.

Files come through `huggingface_hub`'s cache (`HF_HOME` / `HF_HUB_CACHE`, default
`~/.cache/huggingface/hub`) and honour its offline mode (`HF_HUB_OFFLINE=1`: only the cache is read).
`huggingface_hub` is the `[hub]` extra: `pip install 'bigcodec-jax[hub]'`.
"""
from __future__ import annotations

import re

from bigcodec_jax.checkpoints.torch_zip import CheckpointError

DEFAULT_FILENAME = "bigcodec.pt"  # the released weights' file name
# released repositories of other names, by lower-case id: (the weights' file, files read beside it)
REPOSITORY_FILES = {
    "hkustaudio/xcodec2": ("model.safetensors", ()),
    "hkustaudio/xcodec2-hf": ("model.safetensors", ("config.json",)),
    "neuphonic/neucodec": ("pytorch_model.bin", ()),
    "facebook/w2v-bert-2.0": ("model.safetensors", ("config.json",)),
}
INSTALL = "pip install 'bigcodec-jax[hub]'"
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_HUB_ID = re.compile(rf"^(?P<repo>{_PART}/{_PART})(?:@(?P<revision>[A-Za-z0-9][A-Za-z0-9._/-]*))?$")
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors")


def parse(source: str) -> tuple[str, str | None] | None:
    """`(repo_id, revision or None)` when `source` reads as a hub id (see the module's rules), else None."""
    match = _HUB_ID.match(source)
    if not match or match["repo"].lower().endswith(_CHECKPOINT_SUFFIXES):
        return None
    return match["repo"], match["revision"]


def weights_file(source: str, default: str = DEFAULT_FILENAME) -> tuple[str, tuple[str, ...]]:
    """(the file of hub id `source` that holds the weights, the files read beside it): `REPOSITORY_FILES`' entry
    for a known repository, else (`default`, ())."""
    parsed = parse(source)
    return REPOSITORY_FILES.get(parsed[0].lower(), (default, ())) if parsed else (default, ())


def download(source: str, filename: str = DEFAULT_FILENAME) -> str:
    """The local path of `filename` in the hub repository `source` (`owner/name[@revision]`), from the cache or
    downloaded into it; CheckpointError with a one-line reason when it cannot be had."""
    parsed = parse(source)
    if parsed is None:
        raise CheckpointError(f"{source!r} is not a hub id (owner/name or owner/name@revision)")
    repo, revision = parsed
    try:
        import huggingface_hub
        from huggingface_hub import constants, errors
    except ImportError:
        raise CheckpointError(f"{source} is not a local path; to load it as a model-hub id, install "
                              f"huggingface_hub: {INSTALL}") from None
    where = f"{repo}{f'@{revision}' if revision else ''}"
    try:
        return huggingface_hub.hf_hub_download(repo, filename, revision=revision)
    except errors.LocalEntryNotFoundError:  # not cached, and offline or the hub unreachable
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the hub cannot be reached"
        raise CheckpointError(f"{where}: {filename} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                              f"{why}; download it once online, or pass a local path") from None
    except errors.RevisionNotFoundError:
        raise CheckpointError(f"{repo} has no revision {revision!r} on the hub") from None
    except errors.RepositoryNotFoundError:
        raise CheckpointError(f"{repo}: no such model on the hub (or it is private or gated: log in with "
                              f"`hf auth login`)") from None
    except errors.RemoteEntryNotFoundError:
        raise CheckpointError(f"{where} has no file {filename!r} (choose one with filename=)") from None
    except (errors.HfHubHTTPError, OSError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{where}: cannot get {filename}: {first_line}") from None
