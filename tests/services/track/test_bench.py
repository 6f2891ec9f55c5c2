import pytest

from services.track.bench import bench_update
from services.track.config import TrackConfig


@pytest.mark.parametrize("n_people", [1, 5])
def test_bench_update_returns_milliseconds(n_people: int) -> None:
    ms = bench_update(n_people, embedding_dim=16, frames=2, config=TrackConfig(gallery_size=3))
    assert ms > 0.0
