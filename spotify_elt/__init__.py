"""spotify-elt around its loader: the command line, dbt, the schedule, the demo, the dashboard.

The loader itself (Spotify client, API extract, privacy-export import, raw-layer writes) is the
package `ingestion`, which imports nothing from here.
"""
