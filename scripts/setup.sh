#!/usr/bin/env bash
# Set up StreetWatch from the lock files in requirements/ (exact versions, sha256-checked). Usage: scripts/setup.sh [edge|full|render]
#   edge   — onnxruntime + OpenCV + numpy only (requirements/edge.txt) in ./.venv: what the demo, an edge box or
#            the server needs (~30 s)
#   full   — requirements/full.txt in ./.venv: adds torch, ultralytics, the server (FastAPI, SQLModel, psycopg) and
#            the dev tools: training, export, the whole test suite (~3 min); as root also the Debian packages the
#            tests use (CJK font, GStreamer's RTSP server, PostgreSQL, Chromium for the review UI's browser tests)
#   render — requirements/render.txt in its own ./.venv-render: Blender as a Python module (bpy) for the 3D
#            street-stall renders of the dataset build (~1 GB; bpy pins numpy 1.26, so it cannot share .venv)
# Re-running is cheap: nothing is reinstalled while the lock file and this script are unchanged. After installing,
# scripts/lockcheck.py fails the set-up if the environment differs from its lock. `scripts/lock.sh` updates the locks.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-edge}"
case "$profile" in edge|full|render) ;; *) echo "usage: $0 [edge|full|render]" >&2; exit 2 ;; esac

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "StreetWatch needs Python >= 3.11; $python_bin is $("$python_bin" --version 2>&1)" >&2
  exit 1
fi

# install_locked PYTHON LOCK [--allow OTHER-LOCK]: make PYTHON's environment exactly LOCK. Packages outside it
# (left by an older lock) are removed, the lock is installed hash-checked and --no-deps (it already holds every
# dependency, uv resolved them), and scripts/lockcheck.py fails the set-up on any difference left.
install_locked() {
  local python="$1" lock="$2"
  shift 2
  local extras
  mapfile -t extras < <("$python" scripts/lockcheck.py "$lock" "$@" --extras)
  [ "${#extras[@]}" -eq 0 ] || "$python" -m pip --disable-pip-version-check -q uninstall -y "${extras[@]}"
  "$python" -m pip --disable-pip-version-check -q install --require-hashes --no-deps -r "$lock"
  "$python" scripts/lockcheck.py "$lock" "$@"
}

if [ "$profile" = render ]; then
  # bpy 5.0.1 is built for CPython 3.11 exactly
  stamp=".venv-render/.setup-render"
  fingerprint="$(cat requirements/render.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
    exit 0
  fi
  [ -x .venv-render/bin/python ] || "$python_bin" -m venv .venv-render
  install_locked .venv-render/bin/python requirements/render.txt
  .venv-render/bin/python -c 'import bpy, PIL' # fail here if the install is broken
  echo "$fingerprint" > "$stamp"
  exit 0
fi

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
# CJK fonts for the synthetic ads (Chinese text) and ultralytics' plots come from the distribution, never from
# the network at run time. Checked on every run: cheap, and a machine can lose them while the venv stays.
# The stream tests run a real RTSP server: GStreamer's, with the distribution's Python bindings.
system_packages=()
if [ "$profile" = full ]; then
  [ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || system_packages+=(fonts-wqy-zenhei)
  rtsp_probe="import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
  # the server's tests run against a real PostgreSQL too
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || system_packages+=(postgresql)
  # the review UI's browser tests: Playwright drives the distribution's Chromium (its own browser download is not used)
  [ -x /usr/bin/chromium ] || system_packages+=(chromium)
  # ESLint for the review UI's JavaScript runs on Node.js, installed from the npm registry by scripts/test.sh
  command -v npm >/dev/null || system_packages+=(nodejs npm)
  /usr/bin/python3 -c "$rtsp_probe" 2>/dev/null || system_packages+=(
    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp python3-gst-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi
if [ "${#system_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${system_packages[@]}" >/dev/null
  else
    echo "warning: install the Debian packages ${system_packages[*]} (needs root): CJK font, RTSP server, PostgreSQL, Chromium, Node.js" >&2
  fi
fi

stamp=".venv/.setup-$profile"
fingerprint="$(cat "requirements/$profile.txt" pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  exit 0
fi

# Exactly the lock. One dependency is left out of it on purpose: ultralytics' opencv-python (the GUI build, needs
# libGL); opencv-python-headless provides the same cv2/ (requirements/overrides.txt). The project itself goes on
# top, editable, built by the locked setuptools. An edge set-up inside a .venv that already holds the full install
# keeps it: edge is a subset of full, same versions.
allow=()
[ "$profile" = edge ] && [ -f .venv/.setup-full ] && allow=(--allow requirements/full.txt)
install_locked .venv/bin/python "requirements/$profile.txt" "${allow[@]}"
.venv/bin/python -m pip --disable-pip-version-check -q install --no-deps --no-build-isolation --no-index -e .
.venv/bin/python -c 'import cv2, onnxruntime, numpy' # fail here, not later, if the install is broken
echo "$fingerprint" > "$stamp"
