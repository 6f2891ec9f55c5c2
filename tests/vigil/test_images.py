import numpy as np
import pytest

from vigil.errors import BadInput
from vigil.images import decode_jpeg, encode_jpeg, fit_width


def gradient(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    return np.broadcast_to(np.concatenate([x + 0 * y, y + 0 * x, (x // 2 + y // 2)], 2),
                           (height, width, 3)).copy()


def test_jpeg_round_trips_close_to_the_original() -> None:
    image = gradient(64, 48)
    decoded = decode_jpeg(encode_jpeg(image, 95))
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 4


@pytest.mark.parametrize("data", [b"", b"not a jpeg", encode_jpeg(gradient(32, 32), 90)[:40]])
def test_empty_or_corrupt_bytes_are_bad_input(data: bytes) -> None:
    with pytest.raises(BadInput):
        decode_jpeg(data)


@pytest.mark.parametrize("image", [np.zeros((0, 0, 3), np.uint8), np.zeros((8, 8), np.uint8)])
def test_empty_or_grey_images_are_refused(image: np.ndarray) -> None:
    with pytest.raises(BadInput):
        encode_jpeg(image, 90)


def test_fit_width_scales_only_wide_images_and_keeps_the_aspect() -> None:
    wide = gradient(1920, 1080)
    assert fit_width(wide, 1280).shape == (720, 1280, 3)
    small = gradient(640, 360)
    assert fit_width(small, 1280) is small
