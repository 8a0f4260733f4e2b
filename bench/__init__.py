"""TDS Core benchmarks: ``make bench`` (``python -m bench.run``) prints the numbers and writes
``docs/performance.md``. See ``/work/shared/BENCHMARKING.md`` for how to measure honestly."""
