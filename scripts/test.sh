#!/usr/bin/env bash
# Set up the full install (and the Blender venv for the stall renders) and run every check: ruff, mypy, ESLint on the
# review UI's JavaScript (from the npm registry, pinned by package-lock.json), then the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh full
scripts/setup.sh render
.venv/bin/ruff check .
.venv/bin/mypy
npm ci --no-audit --no-fund --loglevel=error
npx --no-install eslint review_ui/js
.venv/bin/python -m pytest "$@"
