"""`python -m ingestion` is `spotify-elt`."""

from ingestion.cli import main

main()
