#!/usr/bin/env bash
# Set up the full install and run every check: ruff, mypy, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh full
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
