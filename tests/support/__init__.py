"""What the tests, the benchmarks and the sample generator share: Spotify-shaped data (Web API
objects in `web_api`, privacy-export records and files in `exports` and `export_eras`), the
stand-in Spotify server, and the helpers of the suite's fixtures.

Imported by package name (`from tests.support.web_api import play_item`), never by path."""
