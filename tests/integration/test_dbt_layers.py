"""The dbt project's layers point one way (dbt_project/README.md): staging reads only sources,
intermediate models read only staging and intermediate, and nothing before the marts reads a
mart. Every dimension's unknown member comes from its contract, and the column types that
differ between warehouses are written once, in var('column_types')."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from ingestion.config import DBT_PROJECT_DIR

BEFORE_THE_MARTS = {"staging", "intermediate"}


@pytest.fixture(scope="module")
def models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every model of a fresh `dbt parse`, by name."""
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }


def layer(node: dict[str, Any]) -> str:
    """The folder under models/ a model is in: staging, intermediate or marts."""
    folder: str = node["fqn"][1]
    return folder


def upstream_models(node: dict[str, Any], models: dict[str, dict[str, Any]]) -> list[str]:
    by_id = {model["unique_id"]: name for name, model in models.items()}
    return [by_id[unique_id] for unique_id in node["depends_on"]["nodes"] if unique_id in by_id]


def test_every_model_is_in_a_layer(models: dict[str, dict[str, Any]]) -> None:
    assert {layer(node) for node in models.values()} == {"staging", "intermediate", "marts"}
    for name, node in models.items():
        prefix = {"staging": "stg_", "intermediate": "int_"}.get(layer(node))
        if prefix:
            assert name.startswith(prefix), f"{name} is in {layer(node)}"
        else:
            assert not name.startswith(("stg_", "int_")), f"{name} is in marts"


def test_staging_reads_only_sources(models: dict[str, dict[str, Any]]) -> None:
    staging = {name: node for name, node in models.items() if layer(node) == "staging"}
    assert staging
    for name, node in staging.items():
        upstream = node["depends_on"]["nodes"]
        assert upstream, name
        assert all(unique_id.startswith("source.") for unique_id in upstream), (name, upstream)


def test_nothing_before_the_marts_reads_a_mart(models: dict[str, dict[str, Any]]) -> None:
    intermediate = [name for name, node in models.items() if layer(node) == "intermediate"]
    assert intermediate
    for name, node in models.items():
        if layer(node) not in BEFORE_THE_MARTS:
            continue
        read = {upstream: layer(models[upstream]) for upstream in upstream_models(node, models)}
        assert set(read.values()) <= BEFORE_THE_MARTS, f"{name} reads {read}"
    for name in intermediate:
        assert not any(
            unique_id.startswith("source.") for unique_id in models[name]["depends_on"]["nodes"]
        ), f"{name} reads a source: only staging does"


def test_every_dimension_takes_its_unknown_member_from_its_contract(
    models: dict[str, dict[str, Any]],
) -> None:
    dimensions = {name: node for name, node in models.items() if name.startswith("dim_")}
    assert len(dimensions) == 7
    for name, node in dimensions.items():
        assert node["contract"]["enforced"], name
        assert "macro.spotify_elt.unknown_member" in node["depends_on"]["macros"], name
        assert node["raw_code"].count("spotify_elt.unknown_member(") == 1, name
        # No hand-written unknown row beside it: its values are the macro's arguments.
        assert not re.search(r"cast\(\s*'unknown", node["raw_code"], re.IGNORECASE), name
    others = [
        name
        for name, node in models.items()
        if name not in dimensions
        and "macro.spotify_elt.unknown_member" in node["depends_on"]["macros"]
    ]
    assert not others


def without_comments(text: str) -> str:
    """SQL or YAML without its Jinja, SQL and YAML comments."""
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL)
    return re.sub(r"(?m)(--|#).*$", "", text)


def test_the_warehouse_type_map_is_written_once(models: dict[str, dict[str, Any]]) -> None:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    column_types: dict[str, dict[str, str]] = project["vars"]["column_types"]
    assert set(column_types) == {"duckdb", "postgres", "sqlserver"}
    kinds = {kind for types in column_types.values() for kind in types}
    assert all(set(types) == kinds for types in column_types.values())
    # The spellings no portable SQL shares: a length, a precision, SQL Server's bit.
    spelled = {
        value.lower()
        for types in column_types.values()
        for value in types.values()
        if "(" in value or value == "bit"
    }
    assert {"nvarchar(4000)", "datetime2(6)", "varchar(32)", "bit"} <= spelled
    files = [
        path
        for pattern in ("macros/*.sql", "models/**/*.sql", "models/**/*.yml", "tests/*.sql")
        for path in DBT_PROJECT_DIR.glob(pattern)
    ]
    assert len(files) > 60
    for path in files:
        code = without_comments(path.read_text(encoding="utf-8")).lower()
        for value in spelled:
            pattern = rf"(?<![\w(]){re.escape(value)}(?![\w(])"
            assert not re.search(pattern, code), f"{path.name} spells {value}: use the map"
    # Contracts name a portable type or read the map, once per file (YAML anchors after that).
    for path in DBT_PROJECT_DIR.glob("models/**/*.yml"):
        for match in re.finditer(r"(?m)^\s+data_type: (.+)$", path.read_text(encoding="utf-8")):
            value = match.group(1)
            assert (
                value in {"integer", "bigint", "date"}
                or re.fullmatch(r"\*(\w+)", value)
                or re.fullmatch(
                    r"&(\w+) \"\{\{ var\('column_types'\)\[target\.type\]\['\1'\] \}\}\"", value
                )
            ), f"{path.name}: data_type {value}"
    contracted = [node for node in models.values() if node["contract"]["enforced"]]
    assert contracted and all(
        column["data_type"] for node in contracted for column in node["columns"].values()
    )
