"""``python -m tests.sites --pages 1000 --latency 0.02``: serve the generated site (benchmarks)."""

from tests.sites.normal import main

main()
