from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.detect.config import DetectConfig, TilingConfig, YoloConfig


def test_defaults_are_valid() -> None:
    config = DetectConfig()
    assert config.backend == "centernet_movenet"
    assert config.input_size % 32 == 0 and config.tiling.enabled


@pytest.mark.parametrize(
    "fields",
    [
        {"backend": "openpose"},
        {"input_size": 100},
        {"input_size": 650},  # not a multiple of 32
        {"score_threshold": 1.5},
        {"nms_iou_threshold": 0.0},
        {"batch_size": 0},
        {"max_people": 0},
        {"intra_op_threads": -1},
        {"tiling": {"columns": 0}},
        {"tiling": {"overlap": 0.9}},
        {"unknown_key": 1},
        {"backend": "yolo"},  # no model file
        {"backend": "yolo", "yolo": {"model": "net.weights"}},  # Darknet without cfg
        {"backend": "yolo", "yolo": {"model": "net.pt"}},
    ],
)
def test_out_of_bounds_settings_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DetectConfig.model_validate(fields)


@pytest.mark.parametrize(
    "yolo",
    [
        YoloConfig(model=Path("yolo.onnx")),
        YoloConfig(model=Path("y.weights"), config=Path("y.cfg")),
    ],
)
def test_yolo_with_its_files_is_accepted(yolo: YoloConfig) -> None:
    assert DetectConfig(backend="yolo", yolo=yolo).yolo == yolo


def test_tiling_is_enabled_only_with_more_than_one_tile() -> None:
    assert not TilingConfig(columns=1, rows=1).enabled
    assert TilingConfig(columns=2, rows=1).enabled


@pytest.mark.parametrize(
    ("size", "grid"), [((1920, 1080), (3, 2)), ((640, 480), (1, 1)), ((1000, 1000), (3, 2))]
)
def test_small_frames_are_not_tiled(size: tuple[int, int], grid: tuple[int, int]) -> None:
    assert TilingConfig(columns=3, rows=2, min_frame_side=1000).grid_for(*size) == grid
