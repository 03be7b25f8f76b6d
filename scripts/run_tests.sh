#!/usr/bin/env bash
# Lint and type-check, run the test suite on SQLite and, beside it, the database tests (marker `db`)
# again on PostgreSQL when one answers at $TEST_POSTGRES_URL.
#
# Arguments are passed to both pytest runs, e.g. scripts/run_tests.sh -x tests/test_db.py
# TEST_POSTGRES_URL is only used as an admin connection to create and drop
# throwaway databases (see tests/conftest.py).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
PYTHON="$ROOT/.venv/bin/python"
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgresql+psycopg://robocall_test:robocall_test@127.0.0.1:5432/postgres}"

PYTEST_NO_TESTS_COLLECTED=5
# Fuzz tests (hypothesis) derandomized: the same examples every run, a failure reproducible (tests/conftest.py).
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"

# The URL without its password, for messages.
redacted_pg_url() {
    sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$TEST_POSTGRES_URL"
}

# Prints nothing and succeeds when we can log in; prints the reason otherwise.
postgres_problem() {
    "$PYTHON" - <<'EOF'
import os, sys
import psycopg
from sqlalchemy.engine import make_url

url = make_url(os.environ["TEST_POSTGRES_URL"]).set(drivername="postgresql")
try:
    psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=3).close()
except Exception as exc:  # any failure just means "no PostgreSQL run"
    print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    sys.exit(1)
EOF
}

[[ -x "$PYTHON" ]] || { echo "run_tests: $PYTHON not found; run 'make setup' first" >&2; exit 1; }

echo "=== static checks: ruff (lint), mypy (the core and the flow engine) ==="
"$ROOT/.venv/bin/ruff" check robocall sms simulator tests bench scripts server.py worker.py || exit 1
"$ROOT/.venv/bin/mypy" || exit 1
# The import contracts and the cycle check are tests (tests/test_architecture.py).

# The two runs go side by side (CI has 30 minutes on 2 cores; one after the other took 27): each on
# its own Redis database number, so neither flushes the other's; the PostgreSQL run's output is kept in
# a file and printed after the SQLite run's.
SQLITE_REDIS_DB="${ROBOCALL_TEST_REDIS_DB:-15}"
PG_REDIS_DB=$(( (SQLITE_REDIS_DB + 15) % 16 ))  # the number below it: 15 -> 14
PG_LOG="$ROOT/var/pytest-postgresql.log"
mkdir -p "$ROOT/var"

pg_pid=""
pg_summary="skipped"
if reason="$(postgres_problem)"; then
    echo "=== pytest -m 'db and not browser' on PostgreSQL ($(redacted_pg_url)), beside the SQLite run: $PG_LOG ==="
    # The browser tests stay on SQLite: their pages run the queries the other web tests check here,
    # and Chromium twice would cost the CI run minutes it does not have.
    ROBOCALL_TEST_REDIS_DB="$PG_REDIS_DB" ROBOCALL_TEST_DB=postgresql \
        "$PYTHON" -m pytest -m "db and not browser" "$@" >"$PG_LOG" 2>&1 &
    pg_pid=$!
else
    echo "PostgreSQL not reachable at $(redacted_pg_url) ($reason): skipping the PostgreSQL run"
fi

echo "=== pytest on SQLite ==="
ROBOCALL_TEST_REDIS_DB="$SQLITE_REDIS_DB" ROBOCALL_TEST_DB=sqlite "$PYTHON" -m pytest "$@"
sqlite_status=$?

pg_status=0
if [[ -n "$pg_pid" ]]; then
    wait "$pg_pid"
    pg_status=$?
    echo
    echo "=== pytest -m 'db and not browser' on PostgreSQL: its output ==="
    cat "$PG_LOG"
    if ((pg_status == PYTEST_NO_TESTS_COLLECTED)); then
        # Nothing marked `db` in this selection yet: nothing to rerun, not a failure.
        echo "run_tests: no database tests selected for the PostgreSQL run"
        pg_status=0
    fi
    pg_summary="exit $pg_status"
fi

echo
echo "run_tests: SQLite run: exit $sqlite_status; PostgreSQL run: $pg_summary"
# Keep pytest's own exit code (1 = failures, 2 = interrupted, ...) for callers.
if ((sqlite_status != 0)); then
    exit "$sqlite_status"
fi
exit "$pg_status"
