"""The model cache folder: where it is, its manifest of SHA-256 sums, and verified look-ups."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil.errors import ConfigError
from vigil.models.catalog import MODELS, ModelFormat

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
FIX_HINT = "run `vigil models fetch`"


class ModelError(ConfigError):
    """A model cannot be used. Not retriable: the process must be fixed, not retried."""


class ModelMissingError(ModelError):
    pass


class ModelCorruptError(ModelError):
    pass


@dataclass(frozen=True)
class ManifestEntry:
    """One converted model in the cache."""

    file: str
    sha256: str
    format: ModelFormat
    inputs: tuple[str, ...]  # tensor names, in call order
    outputs: tuple[str, ...]
    source: str  # requirement it was converted from

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "format": self.format,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestEntry:
        return cls(
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            format=data["format"],
            inputs=tuple(data["inputs"]),
            outputs=tuple(data["outputs"]),
            source=str(data["source"]),
        )


def default_cache_dir() -> Path:
    """`VIGIL_MODEL_DIR`, else `~/.cache/vigil/models`."""
    configured = os.environ.get("VIGIL_MODEL_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "vigil" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(cache_dir: Path) -> dict[str, ManifestEntry]:
    """The manifest's entries; empty when there is no readable manifest."""
    path = cache_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
        if data.get("version") != MANIFEST_VERSION:
            return {}
        return {name: ManifestEntry.from_json(entry) for name, entry in data["models"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_manifest(cache_dir: Path, entries: dict[str, ManifestEntry]) -> None:
    data = {
        "version": MANIFEST_VERSION,
        "models": {name: entries[name].to_json() for name in sorted(entries)},
    }
    temporary = cache_dir / f".{MANIFEST_NAME}.tmp"
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(cache_dir / MANIFEST_NAME)


def is_valid(cache_dir: Path, entry: ManifestEntry | None) -> bool:
    if entry is None:
        return False
    path = cache_dir / entry.file
    return path.is_file() and sha256_of(path) == entry.sha256


def verified_entry(name: str, cache_dir: Path | None = None) -> tuple[Path, ManifestEntry]:
    """The model's file and manifest entry, after checking its SHA-256.

    Raises ModelMissingError or ModelCorruptError, each naming the fix.
    """
    if name not in MODELS:
        raise ModelMissingError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    entry = read_manifest(directory).get(name)
    if entry is None:
        raise ModelMissingError(
            f"model {name!r} is not in the model cache {directory} (no manifest entry): {FIX_HINT}"
        )
    path = directory / entry.file
    if not path.is_file():
        raise ModelMissingError(f"model {name!r}: file {path} is missing: {FIX_HINT}")
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ModelCorruptError(
            f"model {name!r}: file {path} is corrupt (SHA-256 {actual[:12]}..., manifest says "
            f"{entry.sha256[:12]}...): {FIX_HINT}"
        )
    return path, entry


def verified_path(name: str, cache_dir: Path | None = None) -> Path:
    """The path of model `name` in the cache, after checking its SHA-256 against the manifest."""
    return verified_entry(name, cache_dir)[0]
