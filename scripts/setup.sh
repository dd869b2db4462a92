#!/usr/bin/env bash
# Set up StreetWatch in ./.venv. Usage: scripts/setup.sh [edge|full|render]
#   edge   — onnxruntime + OpenCV + numpy only: what the demo, an edge box or the server needs (~30 s)
#   full   — adds torch, ultralytics, the server (FastAPI, SQLModel, psycopg) and the dev tools: training,
#            export, the whole test suite (~3 min); as root also the Debian packages the tests use (CJK font,
#            GStreamer's RTSP server, PostgreSQL, Chromium for the review UI's browser tests)
#   render — Blender as a Python module (bpy) in its own ./.venv-render, for the 3D street-stall renders of the
#            dataset build (~1 GB; bpy pins numpy 1.26, so it cannot share .venv)
# Re-running is cheap: nothing is reinstalled while pyproject.toml and this script are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-edge}"
case "$profile" in edge|full|render) ;; *) echo "usage: $0 [edge|full|render]" >&2; exit 2 ;; esac

python_bin="${PYTHON:-python3}"
if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "StreetWatch needs Python >= 3.11; $python_bin is $("$python_bin" --version 2>&1)" >&2
  exit 1
fi

if [ "$profile" = render ]; then
  # bpy 5.0.1 is built for CPython 3.11 exactly
  stamp=".venv-render/.setup-render"
  fingerprint="$(sha256sum scripts/setup.sh | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
    exit 0
  fi
  [ -x .venv-render/bin/python ] || "$python_bin" -m venv .venv-render
  .venv-render/bin/python -m pip --disable-pip-version-check -q install "bpy==5.0.1" "pillow==13.0.0"
  .venv-render/bin/python -c 'import bpy, PIL' # fail here if the install is broken
  echo "$fingerprint" > "$stamp"
  exit 0
fi

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

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
  /usr/bin/python3 -c "$rtsp_probe" 2>/dev/null || system_packages+=(
    gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp python3-gst-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi
if [ "${#system_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${system_packages[@]}" >/dev/null
  else
    echo "warning: install the Debian packages ${system_packages[*]} (needs root): CJK font, RTSP server, PostgreSQL, Chromium" >&2
  fi
fi

stamp=".venv/.setup-$profile"
fingerprint="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  exit 0
fi

if [ "$profile" = full ]; then
  # torch first, pinned: on this kind of machine pip takes these two from the local disk; PyPI's torchvision
  # does not import beside the other torch file there ("operator torchvision::nms does not exist").
  "${pip[@]}" install "torch==2.14.1" "torchvision==0.29.1"
  "${pip[@]}" install -e ".[train,server,dev]"
  # ultralytics pulls opencv-python (needs libGL) beside opencv-python-headless; both own cv2/, so drop the
  # GUI build and reinstall the headless one over it.
  headless="$(.venv/bin/python -m pip show opencv-python-headless 2>/dev/null | awk '/^Version:/{print $2}')"
  if .venv/bin/python -m pip show opencv-python >/dev/null 2>&1; then
    "${pip[@]}" uninstall -y opencv-python
    "${pip[@]}" install --force-reinstall --no-deps "opencv-python-headless==${headless}"
  fi
else
  "${pip[@]}" install -e .
fi
.venv/bin/python -c 'import cv2, onnxruntime, numpy' # fail here, not later, if the install is broken
echo "$fingerprint" > "$stamp"
