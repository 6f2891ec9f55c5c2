"""Settings of person detection and pose (nested by the global settings as `VIGIL_DETECT__...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BackendName = Literal["movenet_multipose", "centernet_movenet", "yolo"]
PoseModel = Literal["movenet_lightning", "movenet_thunder"]


class TilingConfig(BaseModel):
    """Split a wide frame into overlapping tiles so that small, far people get enough pixels.

    `columns` x `rows` tiles, each run through the model on its own; with `include_full_frame` the
    whole frame is run too (it finds people cut by a tile border). Results are merged: a piece of
    a person cut by a tile edge is dropped when another window saw them whole, then NMS. Frames
    whose long side is under `min_frame_side` are not tiled (their people are big enough).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Defaults measured on MOT17-mini (docs/models.md): two side-by-side tiles of a 16:9 frame are
    # nearly square, so a square model input wastes little; 3x2 tiles cost more and lost precision.
    columns: Annotated[int, Field(ge=1, le=8)] = 2
    rows: Annotated[int, Field(ge=1, le=8)] = 1
    overlap: Annotated[float, Field(ge=0.0, le=0.5)] = 0.1
    include_full_frame: bool = False
    min_frame_side: Annotated[int, Field(ge=0, le=16384)] = 1000

    @property
    def enabled(self) -> bool:
        return self.columns * self.rows > 1

    def grid_for(self, width: int, height: int) -> tuple[int, int]:
        """(columns, rows) for a frame of this size: (1, 1) when it is too small to tile."""
        if max(width, height) < self.min_frame_side:
            return 1, 1
        return self.columns, self.rows


class YoloConfig(BaseModel):
    """The user's own YOLO: Darknet `.cfg` + `.weights`, or one `.onnx` file (then no `config`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path | None = None  # .weights (Darknet) or .onnx
    config: Path | None = None  # .cfg, Darknet only
    input_size: Annotated[int, Field(ge=32, le=2048, multiple_of=32)] = 640
    person_class: Annotated[int, Field(ge=0)] = 0
    # YOLO finds boxes only; keypoints come from MoveNet on each box (True) or stay empty with
    # zero confidence (False, faster).
    pose: bool = True


class DetectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # CenterNet boxes + MoveNet per person: best recall and AP on MOT17-mini (docs/models.md)
    backend: BackendName = "centernet_movenet"
    # Long side of the model input in pixels (MoveNet MultiPose takes any multiple of 32; CenterNet
    # is fixed at 512 and ignores it).
    input_size: Annotated[int, Field(ge=128, le=1920, multiple_of=32)] = 640
    tiling: TilingConfig = TilingConfig()
    # 0.20 with the tracker's min_detection_score 0.20: 21 more CCTV fight-dataset clips get
    # people than at 0.25/0.30, grouped-CV AUC 0.738 vs 0.662 (docs/model-card.md); 0.15 adds junk.
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    nms_iou_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    pose_model: PoseModel = "movenet_lightning"
    yolo: YoloConfig = YoloConfig()
    intra_op_threads: Annotated[int, Field(ge=0, le=256)] = 0  # 0: TensorFlow decides
    batch_size: Annotated[int, Field(ge=1, le=64)] = 8
    max_people: Annotated[int, Field(ge=1, le=500)] = 100
    # A live frame older than this when detect gets to it is skipped, so a CPU that cannot keep
    # up sheds load and the live view stays current instead of falling further behind
    # (uploads are never skipped). 0 turns shedding off.
    max_live_lag_s: Annotated[float, Field(ge=0.0, le=3600.0)] = 2.0
    model_dir: Path | None = None  # None: VIGIL_MODEL_DIR or ~/.cache/vigil/models

    @model_validator(mode="after")
    def _yolo_needs_a_model(self) -> DetectConfig:
        if self.backend != "yolo":
            return self
        model = self.yolo.model
        if model is None:
            raise ValueError("backend 'yolo' needs yolo.model (a .weights or .onnx file)")
        if model.suffix.lower() == ".weights" and self.yolo.config is None:
            raise ValueError("a Darknet yolo.model (.weights) needs yolo.config (.cfg)")
        if model.suffix.lower() not in (".weights", ".onnx"):
            raise ValueError(f"yolo.model must be .weights or .onnx, not {model.name}")
        return self
