"""The model cache: manifest, verification, idempotent fetch; the real cache once."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import vigil.models.fetch as fetch_module
from vigil.models import (
    MODELS,
    FetchError,
    ModelCorruptError,
    ModelMissingError,
    default_cache_dir,
    fetch_all,
    load,
    main_fetch,
    verified_path,
)
from vigil.models.cache import ManifestEntry, read_manifest, sha256_of
from vigil.models.catalog import SOURCES


class FakeRegistry:
    """Stands in for download + convert: counts downloads, writes a file per model."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.downloads: list[str] = []
        monkeypatch.setattr(fetch_module, "download", self.download)
        monkeypatch.setattr(fetch_module, "_convert", self.convert)

    def download(self, source, work_dir: Path) -> Path:
        self.downloads.append(source.name)
        return work_dir / "archive"

    def convert(self, spec, archive: Path, work_dir: Path, cache_dir: Path) -> ManifestEntry:
        path = cache_dir / spec.file_name
        path.write_bytes(f"weights of {spec.name}".encode())
        return ManifestEntry(path.name, sha256_of(path), spec.format, ("in:0",), ("out:0",), "test")


def test_fetch_is_idempotent_and_refetches_only_what_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = FakeRegistry(monkeypatch)
    paths = fetch_all(tmp_path)
    assert set(paths) == set(MODELS)
    assert sorted(registry.downloads) == sorted(SOURCES)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for name, path in paths.items():
        assert manifest["models"][name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    registry.downloads.clear()
    fetch_all(tmp_path)
    assert registry.downloads == []  # valid cache: nothing fetched

    paths["movenet_thunder"].write_bytes(b"corrupted")
    (tmp_path / MODELS["blazeface_short_range"].file_name).unlink()
    fetch_all(tmp_path)
    assert sorted(registry.downloads) == ["human_models", "mediapipe"]
    assert verified_path("movenet_thunder", tmp_path) == paths["movenet_thunder"]


@pytest.mark.parametrize(
    ("damage", "error", "message"),
    [
        ("no_manifest", ModelMissingError, "not in the model cache"),
        ("no_file", ModelMissingError, "is missing"),
        ("corrupt", ModelCorruptError, "is corrupt"),
        ("bad_manifest", ModelMissingError, "not in the model cache"),
    ],
)
def test_a_missing_or_corrupt_model_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, error: type, message: str
) -> None:
    FakeRegistry(monkeypatch)
    paths = fetch_all(tmp_path)
    target = paths["centernet"]
    if damage == "no_manifest":
        (tmp_path / "manifest.json").unlink()
    elif damage == "no_file":
        target.unlink()
    elif damage == "corrupt":
        target.write_bytes(target.read_bytes() + b"x")
    else:
        (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(error, match=message) as caught:
        verified_path("centernet", tmp_path)
    assert "vigil models fetch" in str(caught.value)


def test_an_unknown_model_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="unknown model"):
        verified_path("resnet", tmp_path)


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_MODEL_DIR", str(tmp_path / "models"))
    assert default_cache_dir() == tmp_path / "models"
    monkeypatch.delenv("VIGIL_MODEL_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "vigil" / "models"


def test_main_fetch_reports_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(source, work_dir):
        raise FetchError("registry said no")

    monkeypatch.setattr(fetch_module, "download", refuse)
    monkeypatch.setenv("VIGIL_MODEL_DIR", str(tmp_path))
    assert main_fetch() == 1
    assert "registry said no" in capsys.readouterr().err


def test_main_fetch_lists_the_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    FakeRegistry(monkeypatch)
    monkeypatch.setenv("VIGIL_MODEL_DIR", str(tmp_path))
    assert main_fetch() == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in MODELS)


def test_the_real_cache_holds_every_model_verified(model_cache: Path) -> None:
    entries = read_manifest(model_cache)
    assert set(entries) == set(MODELS)
    for name, entry in entries.items():
        path = verified_path(name, model_cache)
        assert sha256_of(path) == entry.sha256
        assert path.stat().st_size > 100_000


def test_the_real_embedder_graph_runs(model_cache: Path) -> None:
    model = load("mobilenetv2_embedder", model_cache)
    images = np.zeros((2, 224, 224, 3), np.float32)
    (features,) = model(images)
    assert features.shape == (2, 1280)
    assert np.all(features >= 0)  # after ReLU6 and a mean
