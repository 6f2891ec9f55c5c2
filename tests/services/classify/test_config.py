"""ClassifyConfig: defaults, bounds and cross-field checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.classify.config import DEFAULT_MODEL_PATH, ClassifyConfig


def test_defaults_point_at_the_committed_model() -> None:
    config = ClassifyConfig()
    assert config.model_path == DEFAULT_MODEL_PATH
    assert config.model_path.parts[-4:] == ("services", "classify", "weights", "violence.keras")
    assert config.k <= config.n
    assert config.history_seconds == pytest.approx((config.window + 2) / config.rate_hz)


@pytest.mark.parametrize(
    "overrides",
    [
        {"window": 1},
        {"rate_hz": 0},
        {"on_threshold": 1.5},
        {"k": 6, "n": 5},
        {"on_threshold": 0.5, "off_threshold": 0.7},
        {"quiet_seconds": 0},
        {"model_path": Path("model.h5")},
        {"unknown_key": 1},
    ],
)
def test_bad_values_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ClassifyConfig(**overrides)


def test_values_from_strings_like_environment_variables() -> None:
    config = ClassifyConfig.model_validate(
        {"window": "24", "rate_hz": "12.5", "k": "2", "n": "4", "model_path": "/m/v.keras"}
    )
    assert (config.window, config.rate_hz, config.k, config.n) == (24, 12.5, 2, 4)
    assert config.model_path == Path("/m/v.keras")
