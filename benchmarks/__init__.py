"""The benchmarks behind the figures of docs/figures.md, each run from the repository root as
`.venv/bin/python -m benchmarks.<name>`: transform, import_, dag and dashboard. What they share,
sizes like 1m, the machine description and the report's problems, is in `benchmarks.common`."""
