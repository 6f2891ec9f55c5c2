"""Benchmarks: `make bench` runs them, writes JSON under bench/results/ and prints a table."""
