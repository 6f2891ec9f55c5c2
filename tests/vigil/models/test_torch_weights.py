"""Reading PyTorch state dicts without PyTorch: both file formats, written by the test."""

from __future__ import annotations

import io
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vigil.models.torch_weights import TorchFileError, read_state_dict

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class FakeStorage:
    """Stands for a torch storage while pickling (pickled as a persistent id)."""

    def __init__(self, key: str, kind: type, data: np.ndarray):
        self.key, self.kind, self.data = key, kind, data


class FakeTensor:
    def __init__(
        self, storage: FakeStorage, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]
    ):
        self.args: tuple[Any, ...] = (storage, offset, shape, strides, False, OrderedDict())

    def __reduce__(self) -> tuple[Any, ...]:
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, FakeStorage):
            return ("storage", obj.kind, obj.key, "cpu", obj.data.size)
        return None


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Just enough of a `torch` module for pickle to name torch's globals while writing."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in ("FloatStorage", "LongStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _dump(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _state(
    torch: types.ModuleType,
) -> tuple[OrderedDict[str, FakeTensor], list[FakeStorage], dict[str, np.ndarray]]:
    weights = np.arange(24, dtype=np.float32)
    storage = FakeStorage("100", torch.FloatStorage, weights)
    counter = FakeStorage("200", torch.LongStorage, np.array([5], np.int64))
    state = OrderedDict(
        [
            ("conv.weight", FakeTensor(storage, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
            ("conv.bias", FakeTensor(storage, 4, (2,), (1,))),  # a view at an offset
            ("transposed", FakeTensor(storage, 0, (3, 2), (1, 3))),  # non-contiguous strides
            ("norm.num_batches_tracked", FakeTensor(counter, 0, (), ())),
        ]
    )
    expected: dict[str, np.ndarray] = {
        "conv.weight": weights.reshape(2, 3, 2, 2),
        "conv.bias": weights[4:6],
        "transposed": weights[:6].reshape(2, 3).T,
        "norm.num_batches_tracked": np.array(5, np.int64),
    }
    return state, [storage, counter], expected


def write_legacy(path: Path, torch: types.ModuleType) -> dict[str, np.ndarray]:
    state, storages, expected = _state(torch)
    parts = [_dump(LEGACY_MAGIC), _dump(1001), _dump({"little_endian": True}), _dump(state)]
    parts.append(_dump([s.key for s in storages]))
    for storage in storages:
        parts.append(np.array([storage.data.size], "<i8").tobytes() + storage.data.tobytes())
    path.write_bytes(b"".join(parts))
    return expected


def write_zip(path: Path, torch: types.ModuleType) -> dict[str, np.ndarray]:
    state, storages, expected = _state(torch)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", _dump(state))
        for storage in storages:
            archive.writestr(f"archive/data/{storage.key}", storage.data.tobytes())
    return expected


@pytest.mark.parametrize("writer", [write_legacy, write_zip])
def test_state_dict_tensors_come_back_with_their_views(
    tmp_path: Path, fake_torch: types.ModuleType, writer: Any
) -> None:
    path = tmp_path / "weights.pt"
    expected = writer(path, fake_torch)
    actual = read_state_dict(path)
    assert set(actual) == set(expected)
    for name, array in expected.items():
        assert actual[name].dtype == array.dtype, name
        np.testing.assert_array_equal(actual[name], array, err_msg=name)


def test_a_global_outside_the_allowed_few_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            import os

            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(TorchFileError, match="refusing to load global"):
        read_state_dict(path)


def test_a_truncated_legacy_file_is_refused(tmp_path: Path, fake_torch: types.ModuleType) -> None:
    path = tmp_path / "weights.pt"
    write_legacy(path, fake_torch)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(TorchFileError, match="truncated"):
        read_state_dict(path)


def test_a_file_that_is_no_torch_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(TorchFileError, match="not a PyTorch file"):
        read_state_dict(path)
