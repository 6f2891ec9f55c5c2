import pytest
from pydantic import ValidationError

from services.track.config import TrackConfig


@pytest.mark.parametrize(
    "overrides",
    [
        {"lambda_": -0.1},
        {"lambda_": 1.1},
        {"max_cosine_distance": 0.0},
        {"max_iou_distance": 1.5},
        {"n_init": 0},
        {"max_age": 0},
        {"gallery_size": 0},
        {"min_detection_score": 2.0},
        {"snapshot_every": 0},
        {"max_replay_records": -1},
        {"unknown_field": 1},
    ],
)
def test_out_of_bounds_values_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TrackConfig(**overrides)


def test_defaults_are_valid_and_frozen() -> None:
    config = TrackConfig()
    with pytest.raises(ValidationError):
        config.n_init = 5  # type: ignore[misc]
