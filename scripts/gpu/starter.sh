#!/usr/bin/env bash
# Train on a lent GPU machine, in steps that fit the device tool's calls (docs/training.md, "On a lent GPU").
# Run from the repository root on that machine; everything it keeps between calls lives in $SW (/tmp/sw) and
# /tmp/site, outside the repo, because carried paths are gone from the repo folder in the next call.
#   setup              install the carried wheels (.whl/) into /tmp/site; copy the COCO init (.gpu/*.pt), the
#                      current model's weights (.gpu/init.pt) and the review-month kit (.gpu/month.tar) if carried
#   shard N            unpack $SHARDS/shardN.tar (scripts/gpu/pack.py; SHARDS defaults to .gpu) into $SW; a config's
#                      `data:` is pointed at the unpacked folder of the same name (base-v2, base-v3, ...)
#   smoke CONFIG       a 1-epoch run of CONFIG on the validation images: init, AMP, loaders, validation, checkpoints
#   train CONFIG       CONFIG with this machine's paths; weights, run folder and log into $OUT
#   continue CONFIG T  the same, its time budget cut to what is left before the epoch second T
#   month              the review-month fine-tunes (benchmarks.review_month.device_month) from .gpu/init.pt
# SW and DEVICE may be set to rehearse a step on a CPU machine (SW=/tmp/sw-cpu DEVICE=cpu); SHARDS names the folder
# of another packing (e.g. .gpu/800: images up to 800 px for an imgsz 800 config).
set -euo pipefail
SW=${SW:-/tmp/sw}
DEVICE=${DEVICE:-0}
OUT=${OUT:-$SW/out}
SHARDS=${SHARDS:-.gpu}
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 STREETWATCH_CACHE_DIR=$SW/cache
mkdir -p "$SW" "$OUT"

data_name() {  # $1: a repo config; the name of its dataset version folder (base-v2, base-v3, ...)
  basename "$(sed -n 's/^data: //p' "$1")"
}

device_config() {  # $1: a repo config; prints it with this machine's paths and device
  local init
  case "$(sed -n 's/^init: //p' "$1")" in
  *yolov8n_coco*) init=$SW/yolov8n_coco_recovered.pt ;;
  *) init=$SW/init.pt ;;  # the current model's weights, carried as .gpu/init.pt
  esac
  sed -e "s#^init: .*#init: $init#" -e "s#^data: .*#data: $SW/$(data_name "$1")#" -e "s#^device: .*#device: \"$DEVICE\"#" "$1"
}

train_run() {  # $1: a config with this machine's paths; trains it, copies the weights and the run into $OUT
  local name run
  name=$(sed -n 's/^name: //p' "$1")
  python3 -c "from pathlib import Path; from models.train import train; print(train(Path('$1'), Path('$SW/runs')))" \
    2>&1 | tee "$OUT/$name.log" | tr '\r' '\n' | grep -v -E "it/s|s/it" | tail -40
  run="$SW/runs/$name"
  cp "$run/weights/best.pt" "$OUT/$name.best.pt"
  tar -cf "$OUT/$name.tar" -C "$SW/runs" --exclude=weights "$name"
  nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null || true
  tail -3 "$run/metrics.jsonl"
}

case "$1" in
setup)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  cp .gpu/yolov8n_coco_recovered.pt "$SW/" 2>/dev/null || true
  if [ -f .gpu/init.pt ]; then cp .gpu/init.pt "$SW/init.pt"; sha256sum "$SW/init.pt"; fi
  if [ -f .gpu/month.tar ]; then tar -xf .gpu/month.tar -C "$SW"; ls "$SW/month"; fi
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, ultralytics, albumentations, pydantic, platform; print('python', platform.python_version(), 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ultralytics', ultralytics.__version__, 'albumentations', albumentations.__version__, 'cpus', __import__('os').cpu_count())"
  ;;
shard)
  tar -xf "$SHARDS/shard$2.tar" -C "$SW"
  data=$(tar -tf "$SHARDS/shard$2.tar" | awk -F/ 'NR == 1 { print $1 }')  # awk reads to the end: no SIGPIPE
  echo "shard $2: $(find "$SW/$data/images" -type f | wc -l) images, $(find "$SW/$data/labels" -name '*.txt' | wc -l) labels of $data so far"
  ;;
smoke)
  mkdir -p "$SW/smoke"
  data=$SW/$(data_name "$2")
  cp "$data/manifest.json" "$SW/smoke/"
  sed -e "s#^train: .*#train: images/val#" "$data/data.yaml" | sed "1i path: $data" >"$SW/smoke/data.yaml"
  device_config "$2" | sed -e "s#^data: .*#data: $SW/smoke#" -e "s#^name: .*#name: smoke#" \
    -e "s#^epochs: .*#epochs: 1#" -e "/^time_hours/d" -e "/^cache/d" >"$SW/smoke.yaml"
  rm -rf "$SW/runs/smoke"
  python3 -c "from pathlib import Path; from models.train import train; print(train(Path('$SW/smoke.yaml'), Path('$SW/runs')))" \
    2>&1 | tr '\r' '\n' | grep -v -E "it/s|s/it" | tail -25
  ls "$SW/runs/smoke/weights"
  ;;
train)
  device_config "$2" >"$SW/run.yaml"
  train_run "$SW/run.yaml"
  ;;
continue)
  # leave 90 s of the call for the final validation, the copies and the transfer back
  hours=$(python3 -c "import time; print(round(max(0.01, min($(sed -n 's/^time_hours: //p' "$2"), ($3 - time.time() - 90) / 3600)), 4))")
  echo "time budget: $hours h"
  device_config "$2" | sed -e "s#^time_hours: .*#time_hours: $hours#" >"$SW/run.yaml"
  train_run "$SW/run.yaml"
  ;;
month)
  rm -rf "$SW/month-runs"
  python3 -c "from pathlib import Path; from benchmarks.review_month import device_month; device_month(Path('$SW/month'), Path('$SW/base-v2'), Path('$SW/init.pt'), Path('$SW/month-runs'), '$DEVICE', ${WORKERS:-15})" \
    2>&1 | tee "$OUT/month.log" | tr '\r' '\n' | grep -v -E "it/s|s/it" | grep -E "trained in|Error|error|all " | tail -20 || echo "month: exit status $?"
  for run in "$SW/month-runs"/*/; do
    label=$(basename "$run")
    tar -cf "$OUT/month-$label.tar" -C "$run/train" --exclude=best.pt .
  done
  ls -la "$OUT"
  ;;
*)
  echo "usage: $0 setup | shard N | smoke CONFIG | train CONFIG | continue CONFIG END_SECONDS | month" >&2
  exit 2
  ;;
esac
