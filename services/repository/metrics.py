"""The repository's metrics, named by Prometheus conventions, updated where the work happens."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_STORED = Counter(
    "vigil_repository_events_stored_total",
    "Events whose media and document were stored (a replay that changes nothing is not counted)",
    ["source_kind"],
)
CLIP_PARTS_STORED = Counter(
    "vigil_repository_clip_parts_stored_total", "Clip parts put in the media store"
)
MEDIA_BYTES_WRITTEN = Counter(
    "vigil_repository_media_written_bytes_total",
    "Bytes put in the media store: clip parts, posters, crops and faces",
    ["kind"],
)
STORAGE_BYTES = Gauge(
    "vigil_repository_storage_bytes",
    "Media bytes of every event in the repository (updated by the retention sweep)",
)
WRITE_FAILURES = Counter(
    "vigil_repository_write_failures_total",
    "Failed attempts to write an event (retried with back-off)",
    ["store", "kind"],
)
STORE_RETRIES = Counter(
    "vigil_repository_store_retries_total",
    "Store calls that found a server unavailable and were retried after a back-off",
    ["what"],
)
EVENTS_EXPIRED = Counter(
    "vigil_repository_events_expired_total", "Events deleted with their media by retention"
)
EVENT_WRITE_SECONDS = Histogram(
    "vigil_repository_event_write_seconds",
    "Time to store a complete event: pictures and document",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
