from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vigil.models import default_cache_dir, fetch_all


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The real model cache, fetched once (a no-op when `make setup` has filled it)."""
    fetch_all()
    return default_cache_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(os.environ.get("VIGIL_DATA_DIR", "../shared/data")).resolve()


@pytest.fixture(scope="session")
def street_frame(data_dir: Path) -> np.ndarray:
    """A 1920x1080 MOT17 frame with a dozen or more pedestrians."""
    image = cv2.imread(str(data_dir / "mot17-mini" / "MOT17-09-FRCNN" / "img1" / "000001.jpg"))
    assert image is not None, f"MOT17-mini missing under {data_dir}"
    return image
