"""Benchmark harness: wsgikit's workers against Gunicorn's, in the same run, as ratios.

Run it with ``python -m bench`` (or ``bench/run``) from the repository root; see
``bench/README.md``.
"""
