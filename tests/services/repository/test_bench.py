from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.repository.bench import (
    bench_clip_encoding,
    bench_events_stored,
    bench_storage_ratio,
    load_frames,
    ping_pong,
)
from services.repository.config import RepositoryConfig
from services.repository.encode import ClipWriter


def write_source(path: Path, frames: int, fps: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    writer = ClipWriter(path, fps, 128, 96)
    for i in range(frames):
        writer.write(np.roll(background, i * 2, axis=1))
    writer.close()
    return path


def test_load_frames_resamples_and_scales(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src.mp4", frames=30, fps=30.0, seed=0)
    frames = load_frames(source, fps=10.0, width=64, height=48)
    assert len(frames) == 10
    assert {frame.shape for frame in frames} == {(48, 64, 3)}


def test_ping_pong_turns_back_without_repeating_the_ends() -> None:
    frames = [np.full((1, 1, 3), i, np.uint8) for i in range(4)]
    stream = ping_pong(frames)
    assert [int(next(stream)[0, 0, 0]) for _ in range(10)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]


def test_encoding_bench_reports_the_encoded_clip(tmp_path: Path) -> None:
    source = write_source(tmp_path / "src.mp4", frames=20, fps=10.0, seed=1)
    result = bench_clip_encoding(source, video_s=2.0, fps=10.0, width=64, height=48)
    assert (result.width, result.height, result.codec) == (64, 48, "h264")
    assert result.video_s == pytest.approx(2.0)
    assert result.wall_s_per_video_s == pytest.approx(result.wall_s / result.video_s)
    assert result.bytes > 0


def test_storage_bench_counts_clip_poster_and_crops(tmp_path: Path) -> None:
    fight = write_source(tmp_path / "fight.mp4", frames=20, fps=10.0, seed=2)
    quiet = write_source(tmp_path / "quiet.mp4", frames=20, fps=10.0, seed=3)
    config = RepositoryConfig(pre_roll_s=1.0, post_roll_s=1.0, event_lag_s=0.5, min_crop_side_px=4)
    result = bench_storage_ratio(
        fight, quiet, stream_s=30.0, fight_s=4.0, fps=10.0, width=64, height=48,
        sample_s=6.0, config=config,
    )  # fmt: skip
    assert result.clip_parts == 1
    assert result.clip_s == pytest.approx(1.0 + 4.0 + 1.0, abs=0.15)
    assert result.poster_bytes > 0 and result.crop_bytes > 0
    assert result.stored_bytes == result.clip_bytes + result.poster_bytes + result.crop_bytes
    assert result.continuous_bytes_estimate == round(result.sample_minute_bytes * 30.0 / 6.0)
    assert result.stored_fraction == pytest.approx(
        result.stored_bytes / result.continuous_bytes_estimate
    )


def test_events_stored_bench_writes_whole_events_to_both_media_stores(
    tmp_path: Path, mongo_url: str, s3_url: str
) -> None:
    source = write_source(tmp_path / "src.mp4", frames=20, fps=10.0, seed=4)
    results = bench_events_stored(
        mongo_url, s3_url, events=3, source=source, video_s=1.0, width=64, height=48
    )
    assert [r.media for r in results] == ["s3", "local"]
    for result in results:
        assert result.events == 3 and result.clip_bytes > 0
        assert result.events_per_s == pytest.approx(result.events / result.wall_s)
