"""Tracks for many clips: from the cache, else through the real pipeline (then cached)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.classify.dataset import (
    ClipTracks,
    TrackCache,
    file_digest,
    pipeline_version,
    tracks_in_order,
    video_meta,
)
from services.classify.pipeline import VideoPipeline, VideoUnreadable
from services.detect.config import DetectConfig
from services.ingest.config import IngestConfig
from services.track.config import TrackConfig

ClipProgress = Callable[[Path, bool], None]  # (clip done, from the cache?)


@dataclass(frozen=True)
class PipelineConfigs:
    detect: DetectConfig = field(default_factory=DetectConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)

    @property
    def version(self) -> str:
        return pipeline_version(self.detect, self.track, self.ingest)


@dataclass
class Extraction:
    tracks: dict[Path, ClipTracks] = field(default_factory=dict)
    errors: dict[Path, str] = field(default_factory=dict)  # unreadable clips, with the reason


async def extract_tracks(
    videos: Sequence[Path],
    cache_root: Path,
    configs: PipelineConfigs | None = None,
    on_clip: ClipProgress | None = None,
) -> Extraction:
    """Every video's tracks; the pipeline starts only if some video is not cached yet."""
    configs = configs or PipelineConfigs()
    cache = TrackCache(cache_root, configs.version)
    out = Extraction()
    pipeline: VideoPipeline | None = None
    try:
        for video in videos:
            digest = await asyncio.to_thread(file_digest, video)
            cached = cache.get(digest)
            if cached is not None:
                out.tracks[video] = cached
                if on_clip is not None:
                    on_clip(video, True)
                continue
            if pipeline is None:
                pipeline = VideoPipeline(configs.detect, configs.track, configs.ingest)
                await pipeline.start()
            try:
                result = await pipeline.run(video)
                meta = await asyncio.to_thread(video_meta, video)
            except (VideoUnreadable, ValueError) as exc:
                out.errors[video] = str(exc)
            else:
                clip = ClipTracks(
                    tuple(m.SerializeToString() for m in tracks_in_order(result.tracks)), meta
                )
                cache.put(digest, clip)
                out.tracks[video] = clip
            if on_clip is not None:
                on_clip(video, False)
    finally:
        if pipeline is not None:
            await pipeline.close()
    return out
