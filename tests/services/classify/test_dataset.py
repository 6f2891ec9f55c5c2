"""Clip folders in both layouts, the groups file, and the track cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.classify.dataset import (
    TRACK_SETTINGS_NOT_IN_TRACKS,
    ClipTracks,
    TrackCache,
    VideoMeta,
    apply_groups,
    discover_clips,
    pipeline_version,
    read_groups,
)
from services.detect.config import DetectConfig
from services.ingest.config import IngestConfig
from services.track.config import TrackConfig
from vigil.v1.frames_pb2 import FrameRef
from vigil.v1.tracks_pb2 import Tracks


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not really a video")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["fight/fi1.mp4", "fight/fi2.avi", "noFight/no1.mp4", "noFight/readme.txt"],
         [("fight/fi1.mp4", 1), ("fight/fi2.avi", 1), ("noFight/no1.mp4", 0)]),
        (["Violence/V_1.mp4", "NonViolence/NV_1.mp4", "NonViolence/NV_2.MP4"],
         [("NonViolence/NV_1.mp4", 0), ("NonViolence/NV_2.MP4", 0), ("Violence/V_1.mp4", 1)]),
        # The Real Life Violence Situations archive nests its folders one level down.
        (["Real Life Violence Dataset/Violence/V_1.mp4",
          "Real Life Violence Dataset/NonViolence/NV_1.mp4"],
         [("Real Life Violence Dataset/NonViolence/NV_1.mp4", 0),
          ("Real Life Violence Dataset/Violence/V_1.mp4", 1)]),
    ],
)
def test_both_layouts_are_found(
    tmp_path: Path, files: list[str], expected: list[tuple[str, int]]
) -> None:
    make_tree(tmp_path, files)
    clips = discover_clips(tmp_path)
    assert sorted((c.relative, c.label) for c in clips) == sorted(expected)
    assert all(c.group == f"clip:{c.relative}" for c in clips)  # own group without a file
    assert all(c.path == tmp_path / c.relative for c in clips)


@pytest.mark.parametrize("files", [["fight/a.mp4"], ["videos/a.mp4", "other/b.mp4"]])
def test_a_folder_without_both_classes_is_refused(tmp_path: Path, files: list[str]) -> None:
    make_tree(tmp_path, files)
    with pytest.raises(ValueError, match="noFight"):
        discover_clips(tmp_path)


def test_groups_are_applied(tmp_path: Path) -> None:
    make_tree(tmp_path, ["fight/a.mp4", "fight/b.mp4", "noFight/c.mp4"])
    (tmp_path / "groups.csv").write_text(
        "clip,label,source_group\nfight/a.mp4,fight,src1\nnoFight/c.mp4,noFight,src1\n"
    )
    clips, warnings = apply_groups(discover_clips(tmp_path), read_groups(tmp_path / "groups.csv"))
    assert {c.relative: c.group for c in clips} == {
        "fight/a.mp4": "src1", "fight/b.mp4": "clip:fight/b.mp4", "noFight/c.mp4": "src1"}
    assert len(warnings) == 1 and "fight/b.mp4" in warnings[0]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("clip,label\nfight/a.mp4,fight\n", "missing columns"),
        ("clip,label,source_group\nfight/a.mp4,maybe,src1\n", ":2:"),
        ("clip,label,source_group\nfight/a.mp4,fight,\n", ":2:"),
    ],
)
def test_bad_groups_files_are_refused(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "groups.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        read_groups(tmp_path / "groups.csv")


def test_a_label_that_contradicts_the_folder_is_an_error(tmp_path: Path) -> None:
    make_tree(tmp_path, ["fight/a.mp4", "noFight/c.mp4"])
    (tmp_path / "groups.csv").write_text("clip,label,source_group\nfight/a.mp4,noFight,s\n")
    with pytest.raises(ValueError, match=r"fight/a\.mp4"):
        apply_groups(discover_clips(tmp_path), read_groups(tmp_path / "groups.csv"))


def test_the_real_groups_file_parses() -> None:
    from vigil.settings import dataset_dir

    path = dataset_dir() / "surveillance-fight" / "groups.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not here")
    groups = read_groups(path)
    assert len(groups) == 240
    assert {label for label, _ in groups.values()} == {0, 1}


def test_the_cache_round_trips(tmp_path: Path) -> None:
    cache = TrackCache(tmp_path, "v1")
    messages = tuple(Tracks(frame=FrameRef(frame_index=i, position_s=i / 10)).SerializeToString()
                     for i in range(3))
    clip = ClipTracks(messages, VideoMeta(640, 360, 25.0, 2.0))
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, clip)
    assert cache.get("ab" * 32) == clip
    assert [t.frame.frame_index for t in clip.tracks()] == [0, 1, 2]
    assert cache.get("cd" * 32) is None
    assert TrackCache(tmp_path, "v2").get("ab" * 32) is None  # another pipeline version


def test_a_damaged_cache_entry_is_a_miss(tmp_path: Path) -> None:
    cache = TrackCache(tmp_path, "v1")
    cache.put("ab" * 32, ClipTracks((b"",), VideoMeta(1, 1, 1.0, 1.0)))
    next(cache.folder.iterdir()).write_bytes(b"garbage")
    assert cache.get("ab" * 32) is None


@pytest.mark.parametrize(
    ("detect", "track", "ingest"),
    [
        (DetectConfig(score_threshold=0.5), TrackConfig(), IngestConfig()),
        (DetectConfig(), TrackConfig(n_init=5), IngestConfig()),
        (DetectConfig(), TrackConfig(), IngestConfig(analysis_fps=5)),
    ],
)
def test_the_pipeline_version_follows_what_changes_tracks(
    detect: DetectConfig, track: TrackConfig, ingest: IngestConfig
) -> None:
    base = pipeline_version(DetectConfig(), TrackConfig(), IngestConfig())
    assert pipeline_version(DetectConfig(), TrackConfig(), IngestConfig()) == base
    assert pipeline_version(detect, track, ingest) != base
    # Progress reports, batching and live-frame shedding change no track of a file.
    assert pipeline_version(DetectConfig(), TrackConfig(), IngestConfig(progress_every=7)) == base
    assert pipeline_version(DetectConfig(batch_size=2, max_live_lag_s=9.0), TrackConfig(),
                            IngestConfig()) == base
    # Nor do the track service's snapshot settings.
    resumable = {name: 3 for name in TRACK_SETTINGS_NOT_IN_TRACKS}
    assert pipeline_version(DetectConfig(), TrackConfig(**resumable), IngestConfig()) == base


def test_the_pipeline_version_follows_the_motion_measure(monkeypatch: pytest.MonkeyPatch) -> None:
    base = pipeline_version(DetectConfig(), TrackConfig(), IngestConfig())
    monkeypatch.setattr("services.classify.dataset.MOTION_VERSION", -1)
    assert pipeline_version(DetectConfig(), TrackConfig(), IngestConfig()) != base
