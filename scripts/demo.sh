#!/usr/bin/env bash
# Command 1 of the README: set up, then run the main job on bundled sample data into DuckDB.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
sync_environment
exec "$ROOT/.venv/bin/spotify-elt" demo "$@"
