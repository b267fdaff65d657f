#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: uv, then the locked environment.
# Sourced, not run. Needs only Python 3.11+; everything else comes from PyPI (and, for the
# test suite, Debian packages).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.8"
UV_MINIMUM="0.13.0"

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return
        fi
    done
    die "Python 3.11 or newer is needed (python3 --version); install it and run this again"
}

# uv.lock is written by uv $UV_VERSION; an older uv on PATH may not read it.
uv_is_recent() {
    local version
    version="$("$1" --version 2>/dev/null | awk '{print $2}')" || return 1
    [ -n "$version" ] && [ "$(printf '%s\n%s\n' "$UV_MINIMUM" "$version" | sort -V | head -n1)" = "$UV_MINIMUM" ]
}

ensure_uv() {
    if command -v uv >/dev/null 2>&1 && uv_is_recent "$(command -v uv)"; then
        UV="$(command -v uv)"
    else
        # A project-local copy: no sudo, no change to the system Python (PEP 668 safe).
        UV="$ROOT/.tools/bin/uv"
        if [ ! -x "$UV" ]; then
            say "installing uv $UV_VERSION into .tools/ (from PyPI)"
            local python
            python="$(find_python)"
            if ! "$python" -m venv "$ROOT/.tools" >/dev/null 2>&1; then
                # Debian splits venv (and ensurepip) out of python3 into python3-venv.
                rm -rf "$ROOT/.tools"
                apt_install python3-venv
                "$python" -m venv "$ROOT/.tools"
            fi
            "$ROOT/.tools/bin/python" -m pip install --quiet --disable-pip-version-check \
                "uv==$UV_VERSION"
        fi
    fi
    export UV
}

# apt_install PACKAGE...: Debian packages, installed only when missing; root or sudo needed.
apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing system packages: $*; install them (apt-get install $*) and run this again"
        sudo="sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing system packages: $*; install them with your package manager and run this again"
    say "installing system packages: $*"
    # `env` inside sudo: sudo drops the caller's environment, and a debconf question
    # hidden behind >/dev/null would hang the set-up.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

sync_environment() {
    ensure_uv
    say "syncing .venv from uv.lock"
    # Bytecode now, not at each command's start: where nothing may write it later (read-only
    # installs, PYTHONDONTWRITEBYTECODE), every start-up compiled 1,500 modules (0.8 s).
    "$UV" sync --frozen --quiet --compile-bytecode
    export PATH="$ROOT/.venv/bin:$PATH"
    # The Airflow DAG renders its tasks from dbt's manifest: keep it in step with the models.
    say "parsing the dbt project for the Airflow DAG (dbt parse)"
    local output
    if ! output="$("$ROOT/.venv/bin/python" -m spotify_elt.scheduling.local_airflow 2>&1)"; then
        printf '%s\n' "$output" >&2
        die "dbt parse failed (above); fix the dbt project and run this again"
    fi
}
