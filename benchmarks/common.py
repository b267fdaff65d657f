"""What the benchmarks share: sizes written like 1m or 100k, progress on stderr, the machine they
ran on, and how a report lists what went wrong."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path


def parse_size(text: str) -> int:
    """1000000, 1m, 100k, 1,000,000, 2.5M."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    multiplier = 1
    if cleaned[-1:].lower() in ("k", "m"):
        multiplier = 1_000 if cleaned[-1].lower() == "k" else 1_000_000
        cleaned = cleaned[:-1]
    try:
        value = int(float(cleaned) * multiplier)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number like 1m or 100k, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def positive(text: str) -> int:
    """A whole number of at least 1 (repeats, runs)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def progress(message: str) -> None:
    """What a benchmark is doing, on stderr: the report alone goes to stdout."""
    print(message, file=sys.stderr, flush=True)


def machine_description(packages: Sequence[str]) -> str:
    """Cores, CPU model, memory, OS, Python and the versions of `packages`."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {total / 2**30:.0f} GiB RAM"
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, {versions}"
    )


def problems_section(problems: Sequence[str]) -> list[str]:
    """The report's closing lines when anything went wrong; none when nothing did."""
    if not problems:
        return []
    return [
        "",
        "Problems (the figures above are not to be trusted):",
        *(f"- {p}" for p in problems),
    ]
