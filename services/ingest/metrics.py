from prometheus_client import Counter, Gauge

FRAMES_INGESTED = Counter(
    "vigil_frames_ingested_total", "Frames sampled and published", ["camera"]
)
CAMERA_STATE = Gauge(
    "vigil_camera_state",
    "1 for the camera's current state (idle, live, reconnecting, error)",
    ["camera", "state"],
)
UPLOAD_JOBS = Counter("vigil_upload_jobs_total", "Upload jobs finished", ["result"])
