from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.repository.config import RepositoryConfig


def test_defaults_are_valid_and_the_ring_covers_pre_roll_and_lag() -> None:
    config = RepositoryConfig()
    assert config.ring_seconds() == pytest.approx(config.pre_roll_s + config.event_lag_s)
    assert config.pre_roll_s < config.max_part_s


@pytest.mark.parametrize(
    "overrides",
    [
        {"pre_roll_s": -1.0},
        {"pre_roll_s": 31.0},
        {"post_roll_s": 61.0},
        {"max_part_s": 5.0},
        {"nominal_fps": 0.0},
        {"codec": "hevc"},
        {"h264_crf": 52},
        {"h264_preset": "warp"},
        {"vp9_crf": 64},
        {"jpeg_quality": 101},
        {"crop_margin": -0.1},
        {"retention_days": 0},
        {"pre_roll_s": 20.0, "max_part_s": 15.0},  # first violent frame must be in part 0
        {"pre_rol_s": 2.0},  # typo: unknown keys are refused
    ],
)
def test_out_of_bounds_settings_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RepositoryConfig.model_validate(overrides)


def test_settings_parse_from_strings_as_environment_variables_give_them() -> None:
    config = RepositoryConfig.model_validate({"pre_roll_s": "4.5", "codec": "vp9"})
    assert (config.pre_roll_s, config.codec) == (4.5, "vp9")
