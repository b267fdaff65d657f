#!/usr/bin/env bash
# Command 2 of the README: set up everything the suite needs, then run all of it.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# pyodbc needs the unixODBC driver manager; FreeTDS gives dbt-sqlserver a driver to load.
# ldconfig is in /sbin, off a normal user's PATH; grep reads all input (no -q) so that
# ldconfig never dies of SIGPIPE under pipefail.
if ! PATH="$PATH:/sbin:/usr/sbin" ldconfig -p 2>/dev/null | grep 'libodbc\.so\.2' >/dev/null; then
    apt_install unixodbc tdsodbc
fi
# The suite starts its own throwaway PostgreSQL server on loopback.
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    apt_install postgresql
fi
# The dashboard's browser test drives Debian's headless Chromium (Playwright, no download).
if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
fi

sync_environment
say "running the test suite"
exec "$ROOT/.venv/bin/pytest" "$@"
