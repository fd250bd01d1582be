"""Performance benchmarks (``make bench``; ``python -m tests.benchmarks.run --help``).

Not collected by the normal test run (``norecursedirs`` in pyproject.toml); a tiny smoke version runs in
``tests/integration/test_bench_smoke.py`` so this code cannot rot.
"""
