"""Repository: clip encoding time per second of 720p video, storage fraction of a continuous
recording, events stored per second."""

from typing import Any


def run() -> dict[str, Any]:
    from services.repository import bench

    return bench.run()
