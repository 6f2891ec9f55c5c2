"""The classify service."""
