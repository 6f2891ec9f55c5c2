"""What every service runs on: consume loops, publishing, metrics, health, logs, lifecycle."""
