"""The repository service."""
