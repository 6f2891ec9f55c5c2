"""Classify: time per track per frame; `vigil analyze` frames/s as a ratio to detect alone."""

from typing import Any


def run() -> dict[str, Any]:
    from services.classify import bench

    return bench.run()
