"""The test suite, a package so that tests, benchmarks and the sample generator import its helpers
by name: tests/unit (the fast half), tests/integration (the rest), tests/support (what they
share)."""
