"""Registry downloads: pinned hashes, missing clients, extraction of named members only."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

import vigil.models.registries as registries
from vigil.models.catalog import SOURCES
from vigil.models.registries import FetchError, download, extract


def make_tgz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("kind", ["tgz", "whl"])
def test_extract_takes_only_the_named_members(tmp_path: Path, kind: str) -> None:
    members = {"package/models/a.json": b"{}", "package/models/a.bin": b"123", "../evil": b"x"}
    archive = tmp_path / f"archive.{kind}"
    if kind == "tgz":
        make_tgz(archive, members)
    else:
        with zipfile.ZipFile(archive, "w") as wheel:
            for name, data in members.items():
                wheel.writestr(name, data)
    out = extract(archive, ["package/models/a.bin"], tmp_path / "out")
    assert out == {"package/models/a.bin": tmp_path / "out" / "a.bin"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.bin"]
    assert out["package/models/a.bin"].read_bytes() == b"123"
    with pytest.raises(FetchError, match=r"has no package/models/missing\.bin"):
        extract(archive, ["package/models/missing.bin"], tmp_path / "out")


def test_an_archive_with_another_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_pack(requirement: str, work_dir: Path) -> Path:
        archive = work_dir / "tampered.tgz"
        make_tgz(archive, {"package/x": b"not the pinned package"})
        return archive

    monkeypatch.setattr(registries, "_npm_pack", fake_pack)
    with pytest.raises(FetchError, match="refusing to use it"):
        download(SOURCES["human_models"], tmp_path)


def test_a_missing_npm_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registries.shutil, "which", lambda name: None)
    with pytest.raises(FetchError, match="vigil models fetch"):
        download(SOURCES["human_models"], tmp_path)


def test_a_failing_client_reports_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registries.sys, "executable", "/bin/false")
    with pytest.raises(FetchError, match="failed"):
        download(SOURCES["mediapipe"], tmp_path)
