"""Benchmarks behind `tomo bench`: numbers for notes, never asserted in unit tests."""
