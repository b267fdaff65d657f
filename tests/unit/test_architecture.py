"""The layers stay one-way: the import contracts in pyproject.toml ([tool.importlinter]) hold,
nothing outside tests/ reaches into tests/ by path, and the product never imports tests/."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ingestion.config import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
ALIAS = "ingestion"  # `python -m ingestion`: the alias of `python -m spotify_elt` kept for users

# What puts a folder on the import path or loads a module from a file.
_PATH_USE = re.compile(r"sys\.path|PYTHONPATH|site\.addsitedir|spec_from_file_location")
_TESTS = re.compile(r"\btests\b")
_IMPORTS_TESTS = re.compile(r"^\s*(?:from|import)\s+tests\b", re.MULTILINE)
_CHECKED_SUFFIXES = (".py", ".sh", ".toml", ".cfg", ".ini", ".yml", ".yaml")
# What ships: it runs without tests/. Benchmarks and the sample generator import the
# Spotify-shaped builders of tests.support as a package, which is what that package is for.
PRODUCT = ("ingestion/", "spotify_elt/", "dags/")


def lint_imports(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The checker reads the real imports: a contract the code breaks fails the run."""
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\n"
        "root_packages =\n    ingestion\n    spotify_elt\n\n"
        "[importlinter:contract:broken]\n"
        "name = The command line without the loader's configuration (it reads it)\n"
        "type = forbidden\n"
        "source_modules = spotify_elt.cli\n"
        "forbidden_modules = ingestion.config\n",
        encoding="utf-8",
    )
    result = lint_imports(str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and "spotify_elt.cli -> ingestion.config" in result.stdout


def test_the_old_module_name_still_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", ALIAS, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "import" in result.stdout and "dashboard" in result.stdout, result.stdout


def _statement(text: str, start: int) -> str:
    """The text from `start` to the end of its statement: the line, and the lines a bracket
    opened on it carries on to."""
    depth = 0
    for position in range(start, len(text)):
        character = text[position]
        if character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
        elif character == "\n" and depth <= 0:
            return text[start:position]
    return text[start:]


def reaches_into_tests(text: str) -> list[str]:
    """The statements of `text` that put tests/ on the import path or load a module from it by
    path."""
    return [
        _statement(text, match.start())
        for match in _PATH_USE.finditer(text)
        if _TESTS.search(_statement(text, match.start()))
    ]


def imports_tests(text: str) -> list[str]:
    """The statements of `text` that import the tests package."""
    return [match.group(0).strip() for match in _IMPORTS_TESTS.finditer(text)]


def test_the_path_check_finds_a_reach_into_tests() -> None:
    assert reaches_into_tests(
        'sys.path.insert(\n    1, str(Path(__file__).resolve().parents[1] / "tests")\n)\n'
    )
    assert reaches_into_tests('spec = spec_from_file_location("x", ROOT / "tests" / "x.py")')
    assert reaches_into_tests('env["PYTHONPATH"] = "tests"\n')
    # The DAG folder on the path, and a comment on the next line: not a reach into tests/.
    assert not reaches_into_tests("sys.path.insert(0, sys.argv[1])\n# as the tests do\n")
    assert imports_tests("from tests.support import web_api\n")
    assert not imports_tests("from ingestion import tests_done\n")


def test_nothing_outside_tests_reaches_into_tests() -> None:
    """Benchmarks, scripts and the application import what they share from packages, never
    from tests/ by path; the product (loader, application, DAG) does not import tests/ at all."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout.decode()
    offenders = []
    for name in listing.split("\0"):
        path = PROJECT_ROOT / name
        checked = name.endswith(_CHECKED_SUFFIXES) or name == ".ci/run"
        if not checked or name.startswith("tests/") or not path.is_file():
            continue
        text = path.read_text("utf-8")
        found = reaches_into_tests(text) + (imports_tests(text) if name.startswith(PRODUCT) else [])
        offenders += [f"{name}: {statement}" for statement in found]
    assert not offenders, "\n".join(offenders)
