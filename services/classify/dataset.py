"""Labelled clip folders, source groups, clip metadata, and the per-clip track cache.

Two layouts are read, in the folder given or one level below it (case does not matter):
`fight/` + `noFight/` (Surveillance Camera Fight) and `Violence/` + `NonViolence/` (Real Life
Violence Situations). A groups file (`clip,label,source_group`, clip relative to the folder)
names the source video of each clip, so that splits never put one source on both sides.

The cache keeps, per clip, what the expensive part of the pipeline produced: the serialized
`Tracks` messages of ingest -> detect -> track (plus the clip's metadata). Its folder is named by
the pipeline's version: a hash of the detect backend and settings, the model files' SHA-256 sums,
the tracker settings, the analysis rate and the pixel motion's version (`MOTION_VERSION`); a
change to any of them starts a new folder. Features
are computed from the cached tracks (seconds for the whole set), so a change to the features
(`FEATURE_VERSION`) needs no new detection; the models and reports record `FEATURE_VERSION`.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from services.classify.features import FrameTracks
from services.classify.messages import frame_tracks
from services.detect.config import DetectConfig
from services.detect.motion import MOTION_VERSION
from services.ingest.config import IngestConfig
from services.track.config import TrackConfig
from vigil.v1.tracks_pb2 import Tracks

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v",
                            ".wmv", ".flv", ".ts"})
POSITIVE_FOLDERS = frozenset({"fight", "fights", "violence", "violent"})
NEGATIVE_FOLDERS = frozenset({"nofight", "no_fight", "nofights", "nonviolence", "non_violence",
                              "nonviolent"})
LABEL_NAMES = {"fight": 1, "violence": 1, "violent": 1, "1": 1,
               "nofight": 0, "no_fight": 0, "nonviolence": 0, "non_violence": 0, "0": 0}
CACHE_FORMAT = 1
# Detect settings that change how fast or where detection runs, never what a file yields
# (max_live_lag_s sheds live frames only; uploads are never skipped). Checked: the same tracks.
DETECT_SETTINGS_NOT_IN_TRACKS = frozenset({"model_dir", "batch_size", "intra_op_threads",
                                           "max_live_lag_s"})
# Track settings about keeping a camera's tracker resumable (snapshots, replay on restart), never
# what a file yields.
TRACK_SETTINGS_NOT_IN_TRACKS = frozenset({"snapshot_every", "max_replay_records"})


@dataclass(frozen=True)
class LabelledClip:
    path: Path
    relative: str  # path relative to the dataset folder, with `/`
    label: int  # 1 = fight / violence
    group: str  # source video; a clip without a known source is its own group


def _label_of_folder(name: str) -> int | None:
    key = name.lower().replace("-", "_").replace(" ", "_")
    if key in POSITIVE_FOLDERS:
        return 1
    if key in NEGATIVE_FOLDERS:
        return 0
    return None


def _labelled_folders(root: Path) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        label = _label_of_folder(child.name)
        if child.is_dir() and label is not None and label not in found:
            found[label] = child
    return found


def find_layout(root: Path) -> dict[int, Path]:
    """{1: positive folder, 0: negative folder} in `root` or one level below it."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    candidates = [root, *(c for c in sorted(root.iterdir()) if c.is_dir())]
    for folder in candidates:
        found = _labelled_folders(folder)
        if len(found) == 2:
            return found
    raise ValueError(
        f"{root}: expected `fight/` + `noFight/` or `Violence/` + `NonViolence/` sub-folders"
    )


def discover_clips(root: Path) -> list[LabelledClip]:
    """Every video file of both classes (sorted; by suffix, so a corrupt file is listed too)."""
    root = Path(root)
    clips = []
    for label, folder in sorted(find_layout(root).items()):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
                relative = path.relative_to(root).as_posix()
                clips.append(LabelledClip(path, relative, label, f"clip:{relative}"))
    return clips


def read_groups(path: Path) -> dict[str, tuple[int, str]]:
    """`clip,label,source_group` rows -> {clip: (label, group)}; a bad row is a clear error."""
    rows: dict[str, tuple[int, str]] = {}
    with Path(path).open(newline="") as stream:
        reader = csv.DictReader(stream)
        missing = {"clip", "label", "source_group"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            clip = (row["clip"] or "").strip().replace("\\", "/")
            label_name = (row["label"] or "").strip().lower()
            group = (row["source_group"] or "").strip()
            if not clip or not group or label_name not in LABEL_NAMES:
                raise ValueError(f"{path}:{line}: need a clip, a known label and a group")
            rows[clip] = (LABEL_NAMES[label_name], group)
    return rows


def apply_groups(
    clips: Sequence[LabelledClip], groups: dict[str, tuple[int, str]]
) -> tuple[list[LabelledClip], list[str]]:
    """Clips with their source group; clips the file does not list keep their own group.
    Returns the clips and the warnings (unlisted clips). A label that contradicts the folder
    is an error: one of the two is wrong and training on it would be silent poison."""
    out, warnings = [], []
    for clip in clips:
        entry = groups.get(clip.relative)
        if entry is None:
            warnings.append(f"{clip.relative}: not in the groups file, its own group")
            out.append(clip)
            continue
        label, group = entry
        if label != clip.label:
            raise ValueError(f"{clip.relative}: labelled {label} in the groups file, "
                             f"{clip.label} by its folder")
        out.append(LabelledClip(clip.path, clip.relative, clip.label, group))
    return out, warnings


@dataclass(frozen=True)
class VideoMeta:
    width: int
    height: int
    fps: float
    duration_s: float


def video_meta(path: Path) -> VideoMeta:
    """Size, frame rate and duration as the container reports them (the shortcut features)."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise ValueError(f"{path}: cannot open")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        return VideoMeta(
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
            fps=fps,
            duration_s=count / fps if fps > 0 else 0.0,
        )
    finally:
        capture.release()


# --------------------------------------------------------------------------- the track cache


def default_cache_dir() -> Path:
    """`VIGIL_FEATURE_CACHE`, else `~/.cache/vigil/features`."""
    configured = os.environ.get("VIGIL_FEATURE_CACHE")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "vigil" / "features"


def _model_hashes(model_dir: Path | None) -> dict[str, str]:
    from vigil.models.cache import default_cache_dir as default_model_dir

    manifest = (model_dir or default_model_dir()) / "manifest.json"
    if not manifest.is_file():
        return {}
    models = json.loads(manifest.read_text()).get("models", {})
    return {name: str(entry.get("sha256", "")) for name, entry in sorted(models.items())}


def pipeline_version(
    detect: DetectConfig, track: TrackConfig, ingest: IngestConfig
) -> str:
    """A short hash of everything that changes the tracks the pipeline produces."""
    described = {
        "cache_format": CACHE_FORMAT,
        "detect": detect.model_dump(mode="json", exclude=set(DETECT_SETTINGS_NOT_IN_TRACKS)),
        "models": _model_hashes(detect.model_dir),
        "motion": MOTION_VERSION,
        "track": track.model_dump(mode="json", exclude=set(TRACK_SETTINGS_NOT_IN_TRACKS)),
        "analysis_fps": ingest.analysis_fps,
        "max_width": ingest.max_width,
        "jpeg_quality": ingest.jpeg_quality,
    }
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes: a renamed or moved clip still hits the cache."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ClipTracks:
    """The pipeline's output for one clip: its tracks messages, in frame order, and metadata."""

    messages: tuple[bytes, ...]
    meta: VideoMeta

    def tracks(self) -> list[Tracks]:
        return [Tracks.FromString(m) for m in self.messages]

    def frames(self) -> list[FrameTracks]:
        return [frame_tracks(t) for t in self.tracks()]


class TrackCache:
    """`<root>/<pipeline version>/<sha256 of the clip>.npz`; writes are atomic."""

    def __init__(self, root: Path, version: str) -> None:
        self.folder = Path(root) / version

    def _path(self, digest: str) -> Path:
        return self.folder / f"{digest[:32]}.npz"

    def get(self, digest: str) -> ClipTracks | None:
        path = self._path(digest)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                blob = data["blob"].tobytes()
                offsets = data["offsets"]
                meta = VideoMeta(**json.loads(str(data["meta"])))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is recomputed
        messages = tuple(blob[a:b] for a, b in itertools.pairwise(offsets.tolist()))
        return ClipTracks(messages, meta)

    def put(self, digest: str, clip: ClipTracks) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        offsets = np.cumsum([0, *(len(m) for m in clip.messages)]).astype(np.int64)
        blob = np.frombuffer(b"".join(clip.messages), dtype=np.uint8)
        target = self._path(digest)
        partial = target.with_name(target.stem + ".partial.npz")
        np.savez(partial, blob=blob, offsets=offsets, meta=np.array(json.dumps(asdict(clip.meta))))
        partial.replace(target)


def tracks_in_order(messages: Iterable[Tracks]) -> list[Tracks]:
    """Tracks messages sorted by frame index (a bus keeps order per key; this makes sure)."""
    return sorted(messages, key=lambda m: m.frame.frame_index)
