#!/usr/bin/env bash
# Set up the light (ONNX) install and run the main job on the bundled sample photos.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh edge
.venv/bin/streetwatch detect samples/images --out runs/demo "$@"
