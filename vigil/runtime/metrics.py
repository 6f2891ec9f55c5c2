"""The metrics every consume loop and publisher exports, named by Prometheus conventions."""

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "vigil_messages_consumed_total", "Records taken from the bus", ["service", "topic"]
)
MESSAGES_PUBLISHED = Counter(
    "vigil_messages_published_total", "Records put on the bus", ["service", "topic"]
)
HANDLE_SECONDS = Histogram(
    "vigil_handle_seconds",
    "Time to handle one batch of records",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "vigil_batch_size", "Records handled together", ["service", "topic"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
HANDLER_ERRORS = Counter(
    "vigil_handler_errors_total", "Failed attempts to handle a batch", ["service", "topic", "kind"]
)
DEAD_LETTERS = Counter(
    "vigil_dead_letters_total", "Records sent to the dead-letter topic", ["service", "topic"]
)
CONSUMER_LAG = Gauge(
    "vigil_consumer_lag_records",
    "Records not yet consumed, per partition",
    ["service", "group", "topic", "partition"],
)
# Counted by every stage after ingest, labelled with the stage's service name.
FRAMES_PROCESSED = Counter(
    "vigil_frames_processed_total", "Frames a stage finished", ["service", "camera"]
)
