"""Provenance store benchmarks."""
