"""Reading `track-state` back: the latest snapshot of a camera, the way Kafka Streams restores a
state store from its changelog topic.

The camera's key picks the partition; the latest record of the key in it is the camera's state.
This keeps an index per partition (camera -> offset of its latest record, and how far it has
read), so reading the partition to its end is needed once after a worker takes over a camera's
`detections` partition (`refresh`): from then on the owner writes that partition's snapshots
itself, and a camera new to it is looked up in the index alone.
"""

from __future__ import annotations

from vigil import topics
from vigil.bus import Bus

CHUNK_RECORDS = 16  # records read at a time: a snapshot can be a few MB
TOPIC = topics.TRACK_STATE.name


class LatestState:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._read_to: dict[int, int] = {}  # partition -> offset read up to
        self._latest: dict[int, dict[str, int]] = {}  # partition -> camera -> its latest offset

    async def get(self, camera: str, refresh: bool) -> bytes | None:
        """The camera's latest value: a snapshot, b"" for a tombstone, None when it has none.

        refresh: read what was written to the partition since the last read first (needed when
        someone else may have written this camera's state since)."""
        partition = await self.bus.partition_of(TOPIC, camera)
        latest = self._latest.setdefault(partition, {})
        if refresh:
            value = await self._read_new(partition, camera, latest)
            if value is not None:
                return value
        offset = latest.get(camera)
        if offset is None:
            return None
        held = await self.bus.read(TOPIC, partition, offset, offset + 1)
        # Gone (retention, or a tombstone's own expiry): no state, as for a new camera.
        return held[0].value if held and held[0].key == camera else None

    async def forget(self, camera: str) -> None:
        """This worker ended the camera's stream (and wrote its tombstone)."""
        self._latest.get(await self.bus.partition_of(TOPIC, camera), {}).pop(camera, None)

    async def _read_new(self, partition: int, camera: str, latest: dict[str, int]) -> bytes | None:
        """Index what was written since the last read; the camera's newest value among it."""
        end = await self.bus.end_offset(TOPIC, partition)
        position = self._read_to.get(partition, 0)
        if end < position:  # the topic was made anew
            latest.clear()
            position = 0
        value = None
        while position < end:
            stop = min(end, position + CHUNK_RECORDS)
            for record in await self.bus.read(TOPIC, partition, position, stop):
                latest[record.key] = record.offset
                if record.key == camera:
                    value = record.value
            position = self._read_to[partition] = stop
        return value
