#!/bin/sh
# Evaluates a train.py checkpoint through the real serving path: export.py (float16, as shipped) -> the gateway's
# converter (npm run cli -- convert) -> npm run eval on both renderers. Nothing is written inside the repository.
#   tools/demo-model/eval-checkpoint.sh CHECKPOINT.pt OUT_DIR [COUNT] [SEED]
# OUT_DIR gets hf/ (the two exported folders), onnx/ (the converted variants) and eval-{training,second}.{txt,json}.
set -eu
checkpoint=$1
out=$2
count=${3:-300}
seed=${4:-424242}
repo=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
/usr/bin/python3 "$repo/tools/demo-model/export.py" --checkpoint "$checkpoint" --out "$out/hf" --dtype float16
for name in blip-demo blip-demo-vqa; do
  (cd "$repo" && npm run --silent cli -- convert "$out/hf/$name" --out "$out/onnx/$name" --name "$name")
done
for renderer in training second; do
  (cd "$repo" && npm run --silent eval -- --renderer "$renderer" --count "$count" --seed "$seed" \
    --caption "$out/onnx/blip-demo" --vqa "$out/onnx/blip-demo-vqa" --json "$out/eval-$renderer.json") > "$out/eval-$renderer.txt"
done
cat "$out/eval-training.txt" "$out/eval-second.txt"
