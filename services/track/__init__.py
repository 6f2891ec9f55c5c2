"""The track service."""
