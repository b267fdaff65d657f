"""The privacy export: find its streaming-history files, check every record, and land them.

Spotify's "Download your data" sends a zip of JSON arrays: Extended streaming history
(`Streaming_History_Audio_*.json`, older `endsong_*.json`; video plays in
`Streaming_History_Video_*.json`, older `endvideo.json`) and Account data
(`StreamingHistory_music_*.json`, `StreamingHistory_podcast_*.json`,
`StreamingHistory_audiobook_*.json`, older `StreamingHistory*.json`).

Records are read and checked with DuckDB's JSON reader, in SQL, whatever the target warehouse:
it parses and checks a million records in about two seconds on two cores and streams them,
where `json` plus a Python loop per record needs several times that (measured while writing
this). So this package holds SQL, but only SQL over the export *files* and the records they
land (keys and privacy: docs/loading.md, "Merging" and "Privacy"); `landing` runs it against
the raw layer.

A user's first import into DuckDB reads the files once: one statement per format checks,
keys and lands every record, and fails at the first damaged file or invalid record. Only then
(and on other warehouses, and for users with records already) does the check read the files
first, in a DuckDB of its own, to name the file and the record or to leave out invalid ones.

The package, along its seams: `formats` (record formats and their SQL), `files` (finding and
reading the files), `inspection` (naming the damage), `checking`, `landing` (into the raw
layer) and `importer` (`import_export()`, the job).
"""

from ingestion.errors import ExportError
from ingestion.export.formats import CONTENT_FIELDS, EXPECTED_NAMES, FORMATS, classify
from ingestion.export.importer import ImportResult, Progress, import_export, import_user
from ingestion.rules import PRIVATE_FIELDS, without_private_fields_sql

__all__ = [
    "CONTENT_FIELDS",
    "EXPECTED_NAMES",
    "FORMATS",
    "PRIVATE_FIELDS",
    "ExportError",
    "ImportResult",
    "Progress",
    "classify",
    "import_export",
    "import_user",
    "without_private_fields_sql",
]
