"""YOLO decoding and NMS: synthetic output tensors, and tiny Darknet and ONNX models built here
and run through OpenCV DNN like a user's own file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from services.detect.backends.top_down import TopDownDetector
from services.detect.backends.yolo import YoloBoxes, decode_yolo, onnx_layout
from services.detect.config import DetectConfig, YoloConfig


def test_darknet_rows_are_fractions_of_the_input() -> None:
    rows = np.array([[0.5, 0.25, 0.1, 0.2, 0.9, 0.8, 0.1]], np.float32)  # 2 classes
    boxes, scores = decode_yolo([rows], "darknet", 640, 320, person_class=0)
    np.testing.assert_allclose(boxes, [[288, 48, 352, 112]])
    np.testing.assert_allclose(scores, [0.8])  # OpenCV already multiplied by objectness


def test_v5_scores_are_objectness_times_class() -> None:
    output = np.array(
        [[[100, 50, 20, 40, 0.5, 0.2, 0.8], [10, 10, 4, 4, 0.9, 0.9, 0.0]]], np.float32
    )
    boxes, scores = decode_yolo([output], "v5", 640, 640, person_class=1)
    np.testing.assert_allclose(boxes, [[90, 30, 110, 70], [8, 8, 12, 12]])
    np.testing.assert_allclose(scores, [0.4, 0.0])


def test_v8_output_is_channel_first_without_objectness() -> None:
    rows = np.array([[100, 50, 20, 40, 0.7, 0.1], [10, 10, 4, 4, 0.2, 0.6]], np.float32)
    output = rows.T[None]  # (1, 4 + classes, boxes)
    boxes, scores = decode_yolo([output], "v8", 640, 640, person_class=0)
    np.testing.assert_allclose(boxes, [[90, 30, 110, 70], [8, 8, 12, 12]])
    np.testing.assert_allclose(scores, [0.7, 0.2])


@pytest.mark.parametrize(("shape", "layout"), [((1, 84, 8400), "v8"), ((1, 25200, 85), "v5")])
def test_onnx_layout_is_told_by_shape(shape: tuple[int, ...], layout: str) -> None:
    assert onnx_layout(np.zeros(shape, np.float32)) == layout


# --- a tiny Darknet YOLOv3: one 1x1 convolution and a YOLO layer --------------------------------

DARKNET_CFG = """
[net]
width=32
height=32
channels=3

[convolutional]
filters=18
size=1
stride=1
pad=0
activation=linear

[yolo]
mask=0,1,2
anchors=8,16, 8,16, 8,16
classes=1
num=3
"""


def write_darknet(directory: Path) -> tuple[Path, Path]:
    """Per anchor: tx ty tw th objectness person. Objectness and person logits follow the red
    channel (weight 20, bias -10): high on red pixels, near zero elsewhere."""
    filters, channels = 18, 3
    bias = np.zeros(filters, np.float32)
    weights = np.zeros((filters, channels, 1, 1), np.float32)
    for anchor in range(3):
        for offset in (4, 5):  # objectness, person
            bias[anchor * 6 + offset] = -10.0
            weights[anchor * 6 + offset, 0] = 20.0  # blob channel 0 is red (swapRB)
    cfg = directory / "tiny.cfg"
    cfg.write_text(DARKNET_CFG)
    model = directory / "tiny.weights"
    header = struct.pack("<iiiq", 0, 2, 0, 0)  # major, minor, revision, images seen
    model.write_bytes(header + bias.tobytes() + weights.tobytes())
    return cfg, model


def red_square_image(width: int, height: int, square: tuple[int, int, int, int]) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = square
    image[y1:y2, x1:x2] = (0, 0, 255)  # BGR red
    return image


def test_darknet_model_finds_people_only_where_it_should(tmp_path: Path) -> None:
    cfg, weights = write_darknet(tmp_path)
    finder = YoloBoxes(YoloConfig(model=weights, config=cfg, input_size=32))
    square = (40, 30, 56, 54)  # in a 64x48 image: cells of the 32x32 input at x 20-28, y 20-36
    boxes, scores = finder.find(red_square_image(64, 48, square))
    confident = boxes[scores > 0.5]
    assert len(confident) > 0
    centres = (confident[:, :2] + confident[:, 2:]) / 2
    assert np.all((centres[:, 0] > square[0]) & (centres[:, 0] < square[2]))
    assert np.all((centres[:, 1] > square[1]) & (centres[:, 1] < square[3]))
    # anchors of 8x16 input pixels, the input stretched from 64x48: 16x24 source pixels
    np.testing.assert_allclose(confident[:, 2] - confident[:, 0], 16, atol=1e-3)
    np.testing.assert_allclose(confident[:, 3] - confident[:, 1], 24, atol=1e-3)

    config = DetectConfig(
        backend="yolo", yolo=YoloConfig(model=weights, config=cfg, input_size=32, pose=False)
    )
    (people,) = TopDownDetector(config, finder, None).detect([red_square_image(64, 48, square)])
    assert 0 < len(people) < len(confident)  # NMS merged the overlapping anchors
    kept = np.array([p.box for p in people])
    assert all(p.keypoints.shape == (17, 3) and not p.keypoints[:, 2].any() for p in people)
    overlaps = [
        (a, b)
        for a in range(len(kept))
        for b in range(a + 1, len(kept))
        if _iou(kept[a], kept[b]) > config.nms_iou_threshold
    ]
    assert overlaps == []


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return float(w * h / union)


# --- a tiny ONNX "YOLOv8": a 1x1 convolution reshaped to (1, 4 + 2 classes, boxes) --------------


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    """One protobuf field: varint for ints, length-delimited for bytes and strings."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, array: np.ndarray) -> bytes:
    data_type = {np.dtype("float32"): 1, np.dtype("int64"): 7}[array.dtype]
    dims = b"".join(_field(1, d) for d in array.shape)
    return dims + _field(2, data_type) + _field(8, name) + _field(9, array.tobytes())


def _value_info(name: str, shape: list[int]) -> bytes:
    dims = b"".join(_field(1, _field(1, d)) for d in shape)
    tensor_type = _field(1, 1) + _field(2, dims)
    return _field(1, name) + _field(2, _field(1, tensor_type))


def _node(op: str, inputs: list[str], outputs: list[str], attributes: bytes = b"") -> bytes:
    return (
        b"".join(_field(1, i) for i in inputs)
        + b"".join(_field(2, o) for o in outputs)
        + _field(4, op)
        + attributes
    )


def write_onnx(path: Path, size: int, box: tuple[float, float, float, float]) -> None:
    """Every cell predicts the same box (cx, cy, w, h, input pixels); the person score follows
    the red channel, the other class stays at 0.1."""
    weight = np.zeros((6, 3, 1, 1), np.float32)
    weight[4, 0] = 1.0  # person score = red (0..1)
    bias = np.array([*box, 0.0, 0.1], np.float32)
    kernel = _field(5, _field(1, "kernel_shape") + _field(20, 7) + _field(8, 1) + _field(8, 1))
    graph = (
        _field(1, _node("Conv", ["images", "w", "b"], ["features"], kernel))
        + _field(1, _node("Reshape", ["features", "shape"], ["output0"]))
        + _field(2, "tiny_yolo")
        + _field(5, _tensor("w", weight))
        + _field(5, _tensor("b", bias))
        + _field(5, _tensor("shape", np.array([1, 6, -1], np.int64)))
        + _field(11, _value_info("images", [1, 3, size, size]))
        + _field(12, _value_info("output0", [1, 6, size * size]))
    )
    model = _field(1, 7) + _field(8, _field(1, "") + _field(2, 13)) + _field(7, graph)
    path.write_bytes(model)


def test_onnx_model_boxes_map_back_through_the_letterbox(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    write_onnx(path, 32, box=(16.0, 12.0, 8.0, 16.0))
    finder = YoloBoxes(YoloConfig(model=path, input_size=32))
    image = red_square_image(64, 48, (0, 0, 64, 48))  # all red: every cell says person
    boxes, scores = finder.find(image)
    assert len(boxes) == 32 * 32
    # scale 0.5 (64 -> 32): (12, 4, 20, 20) input pixels -> (24, 8, 40, 40) source pixels
    person = scores > 0.5
    np.testing.assert_allclose(
        boxes[person], np.tile([24, 8, 40, 40], (person.sum(), 1)), atol=1e-4
    )

    config = DetectConfig(backend="yolo", yolo=YoloConfig(model=path, input_size=32, pose=False))
    (people,) = TopDownDetector(config, finder, None).detect([image])
    assert len(people) == 1  # a thousand identical boxes, one person after NMS
    np.testing.assert_allclose(people[0].box, [24, 8, 40, 40], atol=1e-4)
    black = np.zeros((64, 64, 3), np.uint8)  # square: no grey letterbox band
    assert TopDownDetector(config, finder, None).detect([black]) == [[]]


def test_missing_yolo_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        YoloBoxes(YoloConfig(model=tmp_path / "absent.onnx"))
    (tmp_path / "y.weights").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="config"):
        YoloBoxes(YoloConfig(model=tmp_path / "y.weights", config=tmp_path / "absent.cfg"))
