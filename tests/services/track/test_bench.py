import pytest

from services.track.bench import bench_snapshot, bench_update
from services.track.config import TrackConfig


@pytest.mark.parametrize("n_people", [1, 5])
def test_bench_update_returns_milliseconds(n_people: int) -> None:
    ms = bench_update(n_people, embedding_dim=16, frames=2, config=TrackConfig(gallery_size=3))
    assert ms > 0.0


def test_bench_snapshot_sizes_grow_with_people_and_trim_past_the_cap() -> None:
    small = bench_snapshot(2, embedding_dim=16, config=TrackConfig(gallery_size=3))
    large = bench_snapshot(8, embedding_dim=16, config=TrackConfig(gallery_size=3))
    assert 0 < small["bytes"] < large["bytes"] and not large["trimmed"]
    full = bench_snapshot(8, embedding_dim=1280, config=TrackConfig(gallery_size=100))
    assert full["trimmed"], "8 full galleries of 1280-d embeddings pass the 3 MiB cap"
