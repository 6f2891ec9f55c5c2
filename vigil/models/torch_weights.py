"""Read a PyTorch `state_dict` file into numpy arrays without PyTorch.

Both of PyTorch's formats are handled: the zip archive (torch >= 1.6: `data.pkl` plus one file per
storage) and the legacy stream (pickled magic number, protocol, system info, the state dict, the
storage keys, then each storage's bytes after an int64 element count). The pickles are read by an
unpickler that resolves only the handful of globals a state dict needs, so a crafted file cannot
run code.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "ByteStorage": np.dtype("u1"),
    "CharStorage": np.dtype("i1"),
    "BoolStorage": np.dtype("bool"),
}


class TorchFileError(ValueError):
    """The file is not a PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype[Any]


@dataclass
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    data: np.ndarray | None = None  # filled once the storage bytes are read


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        if self.storage.data is None:
            raise TorchFileError(f"storage {self.storage.key} has no data")
        flat = self.storage.data
        itemsize = flat.dtype.itemsize
        if not self.shape:
            return flat[self.offset : self.offset + 1].reshape(()).copy()
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.strides),
            writeable=False,
        )
        return np.array(view)


def _rebuild_tensor(
    storage: _StorageRef,
    offset: int,
    shape: tuple[int, ...],
    strides: tuple[int, ...],
    *_ignored: Any,
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(strides))


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves tensors, storages and ordered dicts; refuses every other global."""

    def __init__(self, file: BinaryIO, storages: dict[str, _StorageRef]) -> None:
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise TorchFileError(f"refusing to load global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise TorchFileError(f"unexpected persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise TorchFileError(f"unexpected storage type {storage_type!r}")
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype)
        return self._storages[key]


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of the state dict, by name, as a numpy array in PyTorch's (NCHW) layout."""
    if zipfile.is_zipfile(path):
        return _read_zip(path)
    return _read_legacy(path)


def _as_arrays(state: Any, storages_ready: Callable[[], None]) -> dict[str, np.ndarray]:
    if not isinstance(state, dict):
        raise TorchFileError("the file holds no state dict")
    storages_ready()
    arrays = {}
    for name, value in state.items():
        if isinstance(value, _TensorRef):
            arrays[str(name)] = value.to_numpy()
    return arrays


def _read_legacy(path: Path) -> dict[str, np.ndarray]:
    storages: dict[str, _StorageRef] = {}
    with path.open("rb") as stream:
        header = _RestrictedUnpickler(stream, storages)
        if header.load() != _LEGACY_MAGIC:
            raise TorchFileError(f"{path}: not a PyTorch file")
        header.load()  # protocol version
        header.load()  # system info (endianness, type sizes)
        state = _RestrictedUnpickler(stream, storages).load()
        keys = _RestrictedUnpickler(stream, storages).load()

        def read_storages() -> None:
            for key in keys:
                ref = storages[str(key)]
                header = stream.read(8)
                count = int(np.frombuffer(header, dtype="<i8")[0]) if len(header) == 8 else -1
                raw = stream.read(max(count, 0) * ref.dtype.itemsize)
                if count < 0 or len(raw) != count * ref.dtype.itemsize:
                    raise TorchFileError(f"{path}: storage {key} is truncated")
                ref.data = np.frombuffer(raw, dtype=ref.dtype)

        return _as_arrays(state, read_storages)


def _read_zip(path: Path) -> dict[str, np.ndarray]:
    storages: dict[str, _StorageRef] = {}
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pickles:
            raise TorchFileError(f"{path}: no data.pkl in the archive")
        root = pickles[0][: -len("data.pkl")]
        state = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storages).load()

        def read_storages() -> None:
            for key, ref in storages.items():
                ref.data = np.frombuffer(archive.read(f"{root}data/{key}"), dtype=ref.dtype)

        return _as_arrays(state, read_storages)
