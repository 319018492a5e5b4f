"""A safe reader and a writer of PyTorch zip checkpoints (`torch.save` format), without PyTorch.

Reading never imports or calls anything outside a small allow-list (tensor and storage rebuilds,
`OrderedDict`, plain builtins and numpy scalars). Globals from modules that can run code (`os`,
`subprocess`, `eval`, ...) make the whole file refused; any other unknown global (for example a
Lightning checkpoint's hyper-parameter classes) becomes an inert placeholder that records its
name and arguments, so it never runs but does not stop the tensors from loading.
Tensors come back as numpy arrays.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from bigcodec_jax.errors import InputError
from bigcodec_jax.io import staged


class CheckpointError(InputError):
    """A checkpoint that cannot be read or does not hold what it should; the message says why (a ValueError)."""


_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_SAFE_BUILTINS = {"set", "frozenset", "slice", "complex", "bytearray", "int", "float", "bool", "str", "tuple",
                  "list", "dict", "bytes"}
# Top-level modules whose globals can run code, open files or import more code.
_DANGEROUS_MODULES = {"os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "pty",
                      "ctypes", "pickle", "_pickle", "marshal", "code", "codeop", "types", "io", "_io", "webbrowser",
                      "multiprocessing", "threading", "_thread", "signal", "asyncio", "tempfile", "pathlib",
                      "functools", "operator", "inspect", "platform", "commands", "popen2", "timeit", "pdb",
                      "torch._C", "numpy.testing", "dill", "cloudpickle", "gc", "glob", "urllib", "http", "ftplib"}


class OpaqueObject:
    """Stands in for an object of a class the reader does not trust; holds the pickled data only."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any):
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.qualified_name}>"


def _opaque_class(module: str, name: str) -> type:
    return type(name, (OpaqueObject,), {"qualified_name": f"{module}.{name}", "__module__": "opaque." + module})


class _StorageType:
    def __init__(self, dtype: type):
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_unused: Any) -> np.ndarray:
    size, stride = tuple(size), tuple(stride)
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise CheckpointError("a tensor has a negative size or stride: the checkpoint is corrupt")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if offset < 0 or last >= storage.size:
        raise CheckpointError("a tensor reaches past the end of its storage: the checkpoint is truncated or corrupt")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.array(view)


def _rebuild_parameter(data: np.ndarray, *_unused: Any) -> np.ndarray:
    return data


def _numpy_reconstruct(cls: Any, shape: Any, dtype: Any) -> np.ndarray:
    if cls is not np.ndarray:
        raise CheckpointError(f"refusing to rebuild a numpy array subclass {cls!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise CheckpointError("refusing a numpy scalar of object dtype")
    return np.frombuffer(data or b"", dtype=dtype, count=1)[0]


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Protocol-2 pickles store `bytes` as `_codecs.encode(text, "latin1")`."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("refusing an unexpected _codecs.encode call")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles (Lightning's hyper-parameters) name Python 3 globals the Python 2 way, as
        # `__builtin__.long` for `int`; map them as pickle itself does before checking.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return getattr(__import__("builtins"), name)
        top = module.split(".")[0]
        if module in ("builtins", "__builtin__") or top in _DANGEROUS_MODULES or module in _DANGEROUS_MODULES:
            raise CheckpointError(f"the checkpoint's pickle refers to {module}.{name}, which could run code; "
                                  "refusing to load it")
        return _opaque_class(module, name)

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise CheckpointError(f"unsupported persistent reference {pid!r:.80} in the checkpoint")
        _, storage_type, key, _location, numel = pid
        if key not in self.storages:
            name = f"{self.prefix}data/{key}"
            try:
                raw = self.archive.read(name)
            except KeyError:
                raise CheckpointError(f"storage {name} is missing: the checkpoint is truncated or corrupt") from None
            dtype = storage_type.dtype.newbyteorder("<" if self.byteorder == "little" else ">")
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"storage {name} is shorter than its {numel} elements: the checkpoint is "
                                      "truncated or corrupt")
            self.storages[key] = np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="))
        return self.storages[key]


def load(path: str | os.PathLike) -> Any:
    """Load a `torch.save` zip checkpoint safely; tensors become numpy arrays."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(4)
        if head[:1] == b"\x80":
            raise CheckpointError(f"{path} is a legacy (pre-1.6) PyTorch checkpoint; re-save it with a recent "
                                  "torch.save to get the zip format")
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (not a zip archive), or it is truncated")
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
            if len(pickles) != 1:
                raise CheckpointError(f"{path} is a zip archive but not a PyTorch checkpoint (no data.pkl)")
            prefix = pickles[0][: -len("data.pkl")]
            names = set(archive.namelist())
            byteorder = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
            unpickler = _RestrictedUnpickler(archive.read(pickles[0]), archive, prefix, byteorder)
            return unpickler.load()
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, OSError) as e:
        raise CheckpointError(f"{path} is truncated or corrupt and cannot be read ({type(e).__name__}: {e})") from None


# ------------------------------------------------------------------------------------------ writing

class _Global:
    """A global written by name (`GLOBAL module name`) without importing it (torch is not needed)."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # pickle requires reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is only a name to write")


class _Storage:
    def __init__(self, key: str, array: np.ndarray):
        self.key, self.array = key, array


_STORAGE_NAMES = {np.dtype(v): k for k, v in _STORAGE_DTYPES.items()}


class _TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us emit globals by name
    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file: io.BytesIO):
        super().__init__(file, protocol=2)
        self.storages: list[_Storage] = []
        self.globals: dict[tuple[str, str], _Global] = {}

    def _global(self, module: str, name: str) -> _Global:
        return self.globals.setdefault((module, name), _Global(module, name))

    def save_named_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = save_named_global

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            storage_type = self._global("torch", _STORAGE_NAMES[obj.array.dtype])
            return ("storage", storage_type, obj.key, "cpu", obj.array.size)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, np.generic):
            obj = np.asarray(obj)
        if not isinstance(obj, np.ndarray):
            return NotImplemented
        if obj.dtype not in _STORAGE_NAMES:
            raise TypeError(f"cannot write an array of dtype {obj.dtype} as a torch tensor")
        array = np.ascontiguousarray(obj).astype(obj.dtype.newbyteorder("<"), copy=False)
        storage = _Storage(str(len(self.storages)), array)
        self.storages.append(storage)
        stride = tuple(int(np.prod(array.shape[i + 1:])) for i in range(array.ndim))
        args = (storage, 0, tuple(array.shape), stride, False, collections.OrderedDict())
        return self._global("torch._utils", "_rebuild_tensor_v2"), args


def _aligned_info(archive: zipfile.ZipFile, name: str, offset: int, alignment: int = 64) -> zipfile.ZipInfo:
    """A stored entry whose data starts on an `alignment` boundary, as torch writes them (for mmap)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    header = 30 + len(name.encode())
    pad = (-(offset + header + 4)) % alignment
    info.extra = b"FB" + pad.to_bytes(2, "little") + b"\0" * pad
    return info


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write nested dicts/lists of numpy arrays as a zip checkpoint that `torch.load` reads."""
    path = os.fspath(path)
    buffer = io.BytesIO()
    pickler = _TorchPickler(buffer)
    pickler.dump(obj)
    prefix = os.path.splitext(os.path.basename(path))[0] or "archive"

    def write_zip(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            def write(name: str, data: bytes) -> None:
                archive.writestr(_aligned_info(archive, f"{prefix}/{name}", archive.fp.tell()), data)

            write("data.pkl", buffer.getvalue())
            write(".format_version", b"1")
            write(".storage_alignment", b"64")
            write("byteorder", b"little")
            for storage in pickler.storages:
                write(f"data/{storage.key}", storage.array.tobytes())
            write("version", b"3\n")
            write(".data/serialization_id", b"0" * 20)

    with staged.staged_file(path) as tmp:
        write_zip(tmp)
