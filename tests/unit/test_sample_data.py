"""The demo's sample data is what the generator makes of its personas (scripts/sample_personas.toml)
and the Spotify-shaped builders of tests.support: regenerated, every file is byte for byte the one
committed, so a change to either shows up as a change to the data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingestion.config import PROJECT_ROOT
from spotify_elt.demo import SAMPLE_DIR


def test_regenerating_the_sample_data_gives_the_committed_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "generate_sample_data.py"), str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SAMPLE_DIR)
        for p in SAMPLE_DIR.rglob("*")
        if p.is_file() and p.name != "README.md"
    )
    assert generated == committed
    for name in generated:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name
