"""The detect service."""
