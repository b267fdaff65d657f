"""Draw docs/warehouse.md's picture of the star/snowflake schema from the dbt project's manifest.

Tables are the core marts (`fct_*`, `dim_*`, `bridge_*` directly in models/marts/, not the
analytics or data-quality marts beside them), columns and primary keys come from their contracts,
and every edge is a `relationships` test, so the picture cannot show a key the tests do not
check. Writes docs/images/star_schema.dot and renders it to .svg and .png with Graphviz's `dot`
(`apt-get install graphviz`); tests/integration/test_dbt_project.py fails when the .dot file is
stale.

    .venv/bin/python scripts/draw_schema.py [--manifest path/to/manifest.json]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DOT_PATH = PROJECT_ROOT / "docs" / "images" / "star_schema.dot"
PNG_DPI = 110
CORE_PREFIXES = ("fct_", "dim_", "bridge_")
FONT = "Helvetica,Arial,sans-serif"
# Header colours by kind of table; primary-key and foreign-key rows have a tint of their own.
HEADER_COLOURS = {"fct_": "#1d6f42", "dim_": "#2b5797", "bridge_": "#7e3878"}
PK_COLOUR = "#fff2cc"
FK_COLOUR = "#e8eef7"
EDGE_COLOUR = "#5a6270"


# NamedTuples, not dataclasses: the test loads this file without putting it in sys.modules.
class Table(NamedTuple):
    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]


class ForeignKey(NamedTuple):
    table: str
    column: str
    to_table: str
    to_column: str


def parse_project(target_path: Path) -> Path:
    """`dbt parse` into `target_path` (no warehouse is opened); returns the manifest."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SPOTIFY_", "DBT_"))
    }
    environment["SPOTIFY_ELT_DUCKDB_PATH"] = str(target_path / "unused.duckdb")
    environment["DBT_LOG_PATH"] = str(target_path / "logs")
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir",
         str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path",
         str(target_path)],
        env=environment, cwd=target_path, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{completed.stdout[-3000:]}")
    return target_path / "manifest.json"


def is_core_mart(node: dict[str, Any]) -> bool:
    """A star/snowflake table: named fct_/dim_/bridge_ and directly in models/marts/."""
    name: str = node["name"]
    return (
        node["resource_type"] == "model"
        and node["fqn"][1:-1] == ["marts"]
        and name.startswith(CORE_PREFIXES)
    )


def core_tables(manifest: dict[str, Any]) -> dict[str, Table]:
    tables = {}
    for node in manifest["nodes"].values():
        if not is_core_mart(node):
            continue
        primary_key: tuple[str, ...] = ()
        for constraint in node.get("constraints", []):
            if constraint["type"] == "primary_key":
                primary_key = tuple(constraint["columns"])
        tables[node["name"]] = Table(node["name"], tuple(node["columns"]), primary_key)
    return dict(sorted(tables.items()))


def foreign_keys(manifest: dict[str, Any], tables: dict[str, Table]) -> list[ForeignKey]:
    """One per `relationships` test between two core marts."""
    names = {
        unique_id: node["name"]
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model"
    }
    found = set()
    for node in manifest["nodes"].values():
        if node.get("test_metadata", {}).get("name") != "relationships":
            continue
        kwargs = node["test_metadata"]["kwargs"]
        table = names.get(node.get("attached_node") or "")
        parents = {names.get(unique_id) for unique_id in node["depends_on"]["nodes"]} - {table}
        if table in tables and len(parents) == 1 and (parent := parents.pop()) in tables:
            found.add(ForeignKey(table, kwargs["column_name"], parent, kwargs["field"]))
    return sorted(found)


def layout_columns(tables: dict[str, Table], keys: list[ForeignKey]) -> dict[str, int]:
    """Left to right: dimensions only a fact points at, the facts, then the snowflaked rest
    in order of their distance from a fact (tracks, then albums and the bridge, then artists)."""
    neighbours: dict[str, set[str]] = {name: set() for name in tables}
    for key in keys:
        neighbours[key.table].add(key.to_table)
        neighbours[key.to_table].add(key.table)
    facts = [name for name in tables if name.startswith("fct_")]
    position = dict.fromkeys(facts, 0)
    for name in tables:
        if name not in position and neighbours[name] and neighbours[name] <= set(facts):
            position[name] = -1
    queue = deque(facts)
    while queue:
        current = queue.popleft()
        for name in sorted(neighbours[current]):
            if name not in position:
                position[name] = position[current] + 1
                queue.append(name)
    for name in tables:
        position.setdefault(name, 1)
    return position


def table_label(table: Table, keys: list[ForeignKey]) -> str:
    """An HTML-like label: the name, then a row per column. Each row has a port on either
    side, `<column>_w` and `<column>_e`, so an edge meets the table's border, not a marker."""
    references = {key.column for key in keys if key.table == table.name}
    colour = next(c for prefix, c in HEADER_COLOURS.items() if table.name.startswith(prefix))
    rows = [
        f'<tr><td colspan="2" bgcolor="{colour}" align="center">'
        f'<font color="white"><b>{html.escape(table.name)}</b></font></td></tr>'
    ]
    for column in table.columns:
        markers = []
        if column in table.primary_key:
            markers.append("PK")
        if column in references:
            markers.append("FK")
        if "PK" in markers:
            fill, name = PK_COLOUR, f"<b>{html.escape(column)}</b>"
        elif markers:
            fill, name = FK_COLOUR, html.escape(column)
        else:
            fill, name = "white", html.escape(column)
        # Graphviz refuses an empty <font>: a plain column's marker cell is left empty.
        marker = f'<font color="#555555">{" ".join(markers)}</font>' if markers else ""
        rows.append(
            f'<tr><td port="{column}_w" align="left" bgcolor="{fill}">{name}</td>'
            f'<td port="{column}_e" align="right" bgcolor="{fill}">{marker}</td></tr>'
        )
    body = "\n".join(f"        {row}" for row in rows)
    return (
        '<\n    <table border="0" cellborder="1" cellspacing="0" cellpadding="4" '
        f'color="#9aa3ad">\n{body}\n    </table>\n>'
    )


def render_dot(manifest: dict[str, Any]) -> str:
    """The Graphviz source of the diagram; the same manifest always gives the same text."""
    tables = core_tables(manifest)
    keys = foreign_keys(manifest, tables)
    position = layout_columns(tables, keys)
    lines = [
        "// Generated by scripts/draw_schema.py from the dbt manifest: do not edit.",
        "digraph star_schema {",
        f'    graph [rankdir=LR, nodesep=0.35, ranksep=1.1, splines=spline, fontname="{FONT}",'
        ' fontsize=12, labelloc=b, pad=0.3, label="schema marts. PK: primary-key constraint;'
        " FK: relationships test, from many (crow's foot) to exactly one (bars).\\n"
        'Every dimension has an unknown member (key -1): no foreign key is ever null."];',
        f'    node [shape=plain, fontname="{FONT}", fontsize=11];',
        f'    edge [color="{EDGE_COLOUR}", penwidth=1.3, dir=both, arrowsize=1.1];',
    ]
    for rank in sorted(set(position.values())):
        members = sorted(name for name, column in position.items() if column == rank)
        lines.append(f"    {{ rank=same; {'; '.join(members)}; }}")
    for table in tables.values():
        lines.append(f"    {table.name} [label={table_label(table, keys)}];")
    for key in keys:
        many = f"{key.table}:{key.column}"
        one = f"{key.to_table}:{key.to_column}"
        if position[key.table] <= position[key.to_table]:
            # Drawn left to right, so the many side (crow's foot) is the tail here...
            lines.append(f"    {many}_e:e -> {one}_w:w [arrowtail=crow, arrowhead=teetee];")
        else:
            # ...and the head here, for a dimension left of the fact.
            lines.append(f"    {one}_e:e -> {many}_w:w [arrowtail=teetee, arrowhead=crow];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_pictures(dot_path: Path) -> list[Path]:
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("error: Graphviz's `dot` is missing: apt-get install graphviz")
    written = []
    for suffix, options in ((".svg", []), (".png", [f"-Gdpi={PNG_DPI}"])):
        output = dot_path.with_suffix(suffix)
        subprocess.run(
            [dot, f"-T{suffix[1:]}", *options, "-o", str(output), str(dot_path)], check=True
        )
        written.append(output)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--manifest", type=Path, help="a manifest.json (default: dbt parse)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="draw-schema-") as scratch:
        manifest_path = arguments.manifest or parse_project(Path(scratch))
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    DOT_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOT_PATH.write_text(render_dot(manifest), encoding="utf-8")
    print(f"wrote {DOT_PATH.relative_to(PROJECT_ROOT)}")
    for picture in render_pictures(DOT_PATH):
        print(f"wrote {picture.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
