#!/usr/bin/env bash
# Compile the lock files in requirements/ with uv: exact versions and sha256 hashes for every environment that
# scripts/setup.sh builds. Usage: scripts/lock.sh [--upgrade | --upgrade-package NAME ...]
#   (no option)          re-resolve after a change to pyproject.toml or requirements/*.in, keeping every pin
#                        that still fits (a no-op when nothing changed)
#   --upgrade            move every package to the newest version the ranges allow
#   --upgrade-package N  move only N (repeatable)
# The result is a reviewed commit: run `bash scripts/test.sh` on it before committing (CI builds from it).
# The target is the machine the README commands run on: CPython 3.11, Linux x86_64 (manylinux_2_28).
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
if [ ! -x .venv-lock/bin/uv ]; then
  "$python_bin" -m venv .venv-lock
  .venv-lock/bin/python -m pip --disable-pip-version-check -q install --require-hashes -r requirements/tools.txt
fi

# Resolve from the same places pip installs from on this machine (its configured extra indexes and find-links,
# e.g. a local mirror), so the hashes in the lock are those of the files pip will really fetch.
sources=()
for key in extra-index-url find-links; do
  value="$("$python_bin" -m pip config get "global.$key" 2>/dev/null || true)"
  env_name="PIP_$(echo "$key" | tr 'a-z-' 'A-Z_')"
  value="$value ${!env_name:-}"
  for item in $value; do
    sources+=("--$key" "$item")
  done
done

uv_compile=(.venv-lock/bin/uv pip compile --quiet --generate-hashes --python-version 3.11
  --python-platform x86_64-manylinux_2_28 --index-strategy unsafe-best-match --no-header "${sources[@]}" "$@")

header() {  # a header without machine-specific paths
  printf '# Locked by `bash scripts/lock.sh` (uv %s) from %s. Do not edit by hand.\n' \
    "$(.venv-lock/bin/uv --version | cut -d' ' -f2)" "$1"
}

compile() {  # compile OUTPUT HEADER-SOURCES UV-ARGS...
  local out="$1" from="$2"
  shift 2
  local body
  body="$(mktemp)"
  # keep the existing pins as preferences: uv reads them from the output file
  [ -f "$out" ] && grep -v '^#' "$out" > "$body" || true
  "${uv_compile[@]}" "$@" -o "$body"
  { header "$from"; cat "$body"; } > "$out"
  rm -f "$body"
}

compile requirements/full.txt "pyproject.toml [train,server,dev], requirements/full.in, requirements/overrides.txt" \
  pyproject.toml --extra train --extra server --extra dev requirements/full.in --override requirements/overrides.txt
compile requirements/edge.txt "pyproject.toml, requirements/edge.in, constrained by requirements/full.txt" \
  pyproject.toml requirements/edge.in --constraint requirements/full.txt
compile requirements/render.txt "requirements/render.in" requirements/render.in
echo "requirements/{full,edge,render}.txt written; review the diff, run bash scripts/test.sh, commit"
