#!/usr/bin/env bash
# Train the shipped weights on this machine's 2 CPU cores (two chains in parallel, one thread
# each) and export the best checkpoints to weights/ (float16). Usage: bash examples/train/train_all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs
T="--set threads=1"
export_best() { python -m fusecli models export "runs/$1/checkpoints/best.safetensors" "weights/$1.safetensors" --half --overwrite; }
(
  python -m fusecli -q train examples/train/moefusion-vif.toml $T
  export_best moefusion-vif
  python -m fusecli -q train examples/train/moefusion-vif-full.toml $T
  export_best moefusion-vif-full
  python -m fusecli -q train examples/train/moefusion-mff.toml $T
  export_best moefusion-mff
) > runs/chain-a.log 2>&1 &
(
  python -m fusecli -q train examples/train/autoencoder.toml $T
  export_best autoencoder
  python -m fusecli -q train examples/train/mmaif-reg.toml $T
  export_best mmaif-reg
  python -m fusecli -q train examples/train/mmaif-flow.toml $T
  export_best mmaif-flow
) > runs/chain-b.log 2>&1 &
wait
