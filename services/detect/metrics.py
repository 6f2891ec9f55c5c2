from prometheus_client import Counter, Histogram

INFERENCE_SECONDS = Histogram(
    "vigil_inference_seconds", "Model time per batch", ["model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PEOPLE_DETECTED = Counter("vigil_people_detected_total", "People found in frames", ["camera"])
FRAMES_SKIPPED = Counter(
    "vigil_frames_skipped_total", "Live frames too old to analyse (load shedding)", ["camera"]
)
