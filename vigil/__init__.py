"""Vigil: real-time violence detection for CCTV streams and uploaded videos."""

__version__ = "0.1.0"
