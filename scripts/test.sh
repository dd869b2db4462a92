#!/usr/bin/env bash
# Set up the full install (and the Blender venv for the stall renders) and run every check: ruff, mypy, then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh full
scripts/setup.sh render
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
