"""Courtyard benchmarks: `python -m benchmarks [NAME ...] [--quick]` prints figures.

Figures depend on the machine; each benchmark prints what it measured and the target from the
issue it serves, never pass/fail inside a unit test.
"""
