"""Vigil's six services, one package each."""
