#!/usr/bin/env bash
# Train the starter model on a lent GPU machine, in steps that fit the device tool's calls (docs/training-gpu.md).
# Run from the repository root on that machine; everything it keeps between calls lives in /tmp/sw and /tmp/site,
# outside the repo, because carried paths are gone from the repo folder in the next call.
#   setup        install the carried wheels (.whl/) into /tmp/site, copy the COCO init; report GPU and versions
#   shard N      unpack .gpu/shardN.tar (scripts/gpu/pack.py) into /tmp/sw
#   smoke        a 1-epoch run on the validation images: AMP, loaders, validation and checkpointing all work
#   train        models/config/starter-gpu.yaml with the device paths; weights, run folder and log into $OUT
set -euo pipefail
SW=/tmp/sw
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 STREETWATCH_CACHE_DIR=$SW/cache
mkdir -p "$SW"

device_config() {  # $1: the repo config; prints it with this machine's paths for the init and the data
  sed -e "s#^init: .*#init: $SW/yolov8n_coco_recovered.pt#" -e "s#^data: .*#data: $SW/base-v2#" "$1"
}

case "$1" in
setup)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  cp .gpu/yolov8n_coco_recovered.pt "$SW/"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, ultralytics, albumentations, pydantic, platform; print('python', platform.python_version(), 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ultralytics', ultralytics.__version__, 'albumentations', albumentations.__version__, 'cpus', __import__('os').cpu_count())"
  ;;
shard)
  tar -xf ".gpu/shard$2.tar" -C "$SW"
  echo "shard $2: $(find "$SW/base-v2/images" -type f | wc -l) images, $(find "$SW/base-v2/labels" -name '*.txt' | wc -l) labels so far"
  ;;
smoke)
  mkdir -p "$SW/smoke"
  cp "$SW/base-v2/manifest.json" "$SW/smoke/"
  sed -e "s#^train: .*#train: images/val#" "$SW/base-v2/data.yaml" | sed "1i path: $SW/base-v2" >"$SW/smoke/data.yaml"
  device_config models/config/starter-gpu.yaml | sed -e "s#^data: .*#data: $SW/smoke#" -e "s#^name: .*#name: smoke#" \
    -e "s#^epochs: .*#epochs: 1#" -e "/^time_hours/d" -e "/^cache/d" >"$SW/smoke.yaml"
  python3 -c "from pathlib import Path; from models.train import train; print(train(Path('$SW/smoke.yaml'), Path('$SW/runs')))" \
    2>&1 | tr '\r' '\n' | grep -v -E "it/s|s/it" | tail -25
  ls "$SW/runs/smoke/weights"
  ;;
train)
  device_config models/config/starter-gpu.yaml >"$SW/starter-gpu.yaml"
  name=$(sed -n 's/^name: //p' "$SW/starter-gpu.yaml")
  python3 -c "from pathlib import Path; from models.train import train; print(train(Path('$SW/starter-gpu.yaml'), Path('$SW/runs')))" \
    2>&1 | tee "$OUT/train.log" | tr '\r' '\n' | grep -v -E "it/s|s/it" | tail -60
  run="$SW/runs/$name"
  cp "$run/weights/best.pt" "$OUT/best.pt"
  tar -cf "$OUT/run.tar" -C "$SW/runs" --exclude=weights "$name"
  nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
  tail -3 "$run/metrics.jsonl"
  ;;
*)
  echo "usage: $0 setup | shard N | smoke | train" >&2
  exit 2
  ;;
esac
