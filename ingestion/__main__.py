"""`python -m ingestion` is kept as an alias of `python -m spotify_elt` (`spotify-elt`)."""

from spotify_elt.cli import main

main()
