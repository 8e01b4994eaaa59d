#!/usr/bin/env bash
# Run the test suite against the NEWEST releases of every dependency (no constraints.txt), in a
# throw-away venv, and print which packages moved and which tests broke. This is how an upgrade
# is made deliberately: if it passes, `python tools/freeze_constraints.py` inside that venv
# writes the new constraints.txt; if not, the failures say what to fix first.
#
#   bash tools/test_newest.sh [pytest args...]      # e.g. -x, or tests/solve
#
# torch stays at the CPU build 2.13.0 (a newer torch from PyPI is a multi-GB CUDA build).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${MECHDSL_NEWEST_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg RAY_USAGE_STATS_ENABLED=0
pip install -q torch==2.13.0 && pip install -q --upgrade --upgrade-strategy eager -e ".[dev,gym,ray]" || exit 2

echo "== packages whose newest release differs from constraints.txt"
python tools/freeze_constraints.py --out "$VENV/newest-constraints.txt" >/dev/null
diff <(grep -v '^#' constraints.txt) <(grep -v '^#' "$VENV/newest-constraints.txt") | sed -n 's/^> /  newest: /p; s/^< /  pinned: /p'

echo "== test suite against the newest releases (venv: $VENV)"
python -m pytest -rf "$@" 2>&1 | tee "$VENV/pytest.log" | tail -n 40
status=${PIPESTATUS[0]}
if [ "$status" -eq 0 ]; then
  echo "== the newest releases pass: 'python tools/freeze_constraints.py' in $VENV updates constraints.txt"
else
  echo "== broken by the newest releases (full log: $VENV/pytest.log):"
  grep -E '^FAILED|^ERROR' "$VENV/pytest.log" | sort -u
fi
exit "$status"
