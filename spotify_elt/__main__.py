"""`python -m spotify_elt` is `spotify-elt`."""

from spotify_elt.cli import main

main()
