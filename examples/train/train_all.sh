#!/usr/bin/env bash
# Train the shipped weights on this machine's 2 CPU cores (two chains in parallel, one thread
# each) and export the best checkpoints to weights/ (float16), then the fine-tunes behind the
# shipped all-in-one files (weights/MODEL_CARD.md): a longer CPU run of mmaif-reg, where a CUDA
# GPU is present two GPU runs of it (batch 32, 6 data-making processes), the CPU runs that give
# mmaif-reg its classical base, its detail gate, prompt restorations and larger crops, and last
# mmaif-flow, fine-tuned from that mmaif-reg as a flow from the same classical base; then the
# stop-24 restorer and the stop-28 correction gate, a fine-tune of each model for each, and
# (stop 29) mmaif-reg's gate re-trained alone with its new inputs, and (stop 30) once more with
# low resolution restored by the restorer on the frames that look up-sampled, and a short
# fine-tune of mmaif-flow with that restoration; (stop 31) mmaif-reg's gate alone as a hard
# sigmoid on per-image PSNR, and the same stage for mmaif-flow's gate.
# Usage: bash examples/train/train_all.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs
T="--set threads=1"
# mmaif-reg.toml trains the shipped design (regression on a classical base); the runs before the
# last one of the shipped chain had no base, so they override the model table back to plain regression
NOBASE=(--set 'model={variant="regression"}')
# the runs before stop 24 had no learned restorer: nothing of it to freeze, and (where a run takes
# the model table of mmaif-reg.toml) its stop-21 model without the restorer parts
BEFORE24=(--set 'freeze=["autoencoder"]')
STOP21=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,restore={vif=["gaussian_noise","jpeg","ir_stripes"],mef=["gaussian_noise","jpeg","haze"],mff=["gaussian_noise","jpeg","haze","low_contrast"]}}')
export_best() { python -m fusecli models export "runs/$1/checkpoints/${3:-best}.safetensors" "weights/${2:-$1}.safetensors" --half --overwrite; }
# tune MODEL RUN ARGS...: a fine-tune of examples/train/MODEL.toml into runs/RUN, its best exported as weights/MODEL
tune() { local model=$1 run=$2; shift 2; python -m fusecli -q train "examples/train/$model.toml" --set "out=../../runs/$run" "$@"; export_best "$run" "$model"; }
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
  python -m fusecli -q train examples/train/restorer.toml $T  # (trained in stop 24; needs only the data)
  export_best restorer
  python -m fusecli -q train examples/train/mmaif-reg.toml $T "${NOBASE[@]}" "${BEFORE24[@]}" \
    --set 'init={autoencoder="../../weights/autoencoder.safetensors"}'
  export_best mmaif-reg
) > runs/chain-b.log 2>&1 &
wait

# mmaif-reg: 8,000 more steps on CPU from the exported model (paths below are relative to the config)
python -m fusecli -q train examples/train/mmaif-reg.toml "${NOBASE[@]}" "${BEFORE24[@]}" --set threads=2 --set out=../../runs/mmaif-reg-ft \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' --set steps=8000 --set optim.lr=5e-4 \
  --set optim.warmup=100 --set validation.every=1000
export_best mmaif-reg-ft mmaif-reg

if python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
  # gpu_tune NAME RUN INIT STEPS SEED LR [ARGS]: one GPU fine-tune of the all-in-one model NAME
  gpu_tune() {
    python -m fusecli -q train "examples/train/$1.toml" "${@:7}" --set "out=../../runs/$2" --set "init={model=\"../../$3\"}" \
      --set steps="$4" --set seed="$5" --set optim.lr="$6" --set data.batch=32 --set data.workers=6 --set threads=2 \
      --set validation.every=1000
  }
  # (the one GPU session ran these side by side with two runs of the old noise-started mmaif-flow, which
  # stop 23 replaced by the flow from the base below)
  gpu_tune mmaif-reg mmaif-reg-gpu1 weights/mmaif-reg.safetensors 1500 1 5e-4 "${NOBASE[@]}" "${BEFORE24[@]}"
  gpu_tune mmaif-reg mmaif-reg-gpu2 runs/mmaif-reg-gpu1/checkpoints/best.safetensors 2700 2 2e-4 "${NOBASE[@]}" "${BEFORE24[@]}"
  export_best mmaif-reg-gpu2 mmaif-reg
fi

# mmaif-reg with its classical base (the config's model table adds it): the network now corrects
# the training-free fusion of the (degraded) inputs instead of re-making it; fine-tuned on CPU
# from the file above with a fresh (zero) head, so it starts exactly at the classical fusion
python -m fusecli -q train examples/train/mmaif-reg.toml "${BEFORE24[@]}" --set threads=2 --set out=../../runs/mmaif-reg-base \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' --set 'reset=["head"]' \
  --set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"}}' \
  --set steps=6000 --set optim.lr=5e-4 --set optim.warmup=100 --set validation.every=1000
export_best mmaif-reg-base mmaif-reg
# ... and then its detail gate (nearly open at the start)
python -m fusecli -q train examples/train/mmaif-reg.toml "${BEFORE24[@]}" --set threads=2 --set out=../../runs/mmaif-reg-detail \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' \
  --set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true}' \
  --set steps=2000 --set optim.lr=3e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-detail mmaif-reg
# ... and last with the config's whole model table: the base restores what the prompt names
# (stop 21: 939 s on 2 cores; the best validation step was the last)
python -m fusecli -q train examples/train/mmaif-reg.toml "${BEFORE24[@]}" "${STOP21[@]}" --set threads=2 --set out=../../runs/mmaif-reg-restore \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' \
  --set steps=2000 --set optim.lr=3e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-restore mmaif-reg
# ... and on 256² crops (batch 4): its corrections of haze and tone, learned on 128² crops, did
# not carry over to whole images (stop 21: best at step 1,000, 909 s on 2 cores)
python -m fusecli -q train examples/train/mmaif-reg.toml "${BEFORE24[@]}" "${STOP21[@]}" --set threads=2 --set out=../../runs/mmaif-reg-crop256 \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' --set seed=1 --set data.crop=256 --set data.batch=4 \
  --set steps=1500 --set optim.lr=2e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-crop256 mmaif-reg
# mmaif-flow: the shipped mmaif-reg as a flow from its classical base (start = base latent + 0.5
# noise, predicting the fused latent); its new state and time inputs start at zero, so the run
# begins at mmaif-reg's output (stop 23: best at step 500, 395 s on 2 cores)
# (the stop-23 model table: mmaif-flow.toml has since pinned later restorations)
python -m fusecli -q train examples/train/mmaif-flow.toml --set threads=2 "${BEFORE24[@]}" \
  --set 'model={variant="flow",prediction="target",start_noise=0.5}'
export_best mmaif-flow

# stop 24: the restorer (trained in chain b) put, frozen, into both all-in-one models, which run
# it on their base's frames for JPEG prompts; a short fine-tune each so the correction adapts.
LEARNED=(--set seed=6 --set data.crop=256 --set data.batch=4 --set steps=400 --set optim.lr=5e-5 --set optim.warmup=20
         --set validation.every=200 --set threads=2)
# (the stop-24 model table: mmaif-reg.toml has since gained the correction gate and more restorations)
STOP24=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,restore={vif=["gaussian_noise","jpeg","ir_stripes"],mef=["gaussian_noise","jpeg","haze"],mff=["gaussian_noise","jpeg","haze","low_contrast"]},learned_restore=["jpeg"],restorer={ops=["jpeg","downsample"]}}')
tune mmaif-reg mmaif-reg-learned "${LEARNED[@]}" "${STOP24[@]}" \
  --set 'init={model="../../weights/mmaif-reg.safetensors",restorer="../../weights/restorer.safetensors"}'
tune mmaif-flow mmaif-flow-learned "${LEARNED[@]}" \
  --set 'init={model="../../weights/mmaif-flow.safetensors",restorer="../../weights/restorer.safetensors"}' \
  --set 'model={learned_restore=["jpeg"],restorer={ops=["jpeg","downsample"]}}'

# stop 28: the contrast restoration now stretches about the mean (fusecli.restore.stretch), VIF and
# MEF prompts may ask for it too, and a per-image correction gate weighs the network's change to
# its restored base (mmaif-reg.toml's model table); a short fine-tune each, best at step 400.
STOP28=(--set seed=12 --set data.crop=256 --set data.batch=4 --set steps=800 --set optim.lr=1e-4 --set optim.warmup=20
        --set validation.every=200 --set threads=2)
# (the stop-28 model table: mmaif-reg.toml has since gained the named gate and more restorations)
STOP28_MODEL=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,correction_gate=true,restore={vif=["gaussian_noise","jpeg","ir_stripes","low_contrast"],mef=["gaussian_noise","jpeg","haze","low_contrast"],mff=["gaussian_noise","jpeg","haze","low_contrast"]},learned_restore=["jpeg"],restorer={ops=["jpeg","downsample"]}}')
tune mmaif-reg mmaif-reg-gate "${STOP28[@]}" "${STOP28_MODEL[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
tune mmaif-flow mmaif-flow-gate "${STOP28[@]}" --set 'init={model="../../weights/mmaif-flow.safetensors"}' \
  --set 'model={correction_gate=true,restore={vif=["gaussian_noise","jpeg","ir_stripes","low_contrast"],mef=["gaussian_noise","jpeg","haze","low_contrast"],mff=["gaussian_noise","jpeg","haze","low_contrast"]}}'

# everything of mmaif-reg but its correction gate
REG_FROZEN=('freeze=["autoencoder","restorer","text","source_proj","role","base_proj","detail_gate","merge","task","prompt_proj","blocks","norm_out","adaln_out","head"]')
# stop 29: mmaif-reg's correction gate alone, re-set half open (correction_gate_bias = 0) with its
# new inputs (correction_gate_named: layer-normalised token mean and condition, and the
# degradations the prompt names), everything else frozen; on whole-frame crops (restorations with
# whole-frame statistics, as at inference) whose low-contrast samples are stretched to full range
# first (as natural frames are), with the L1 to the teacher only (the Sobel term against the
# sources rewards any extra edge, and kept the gate open on bases that are already exact).
# Best at the last step. (mmaif-flow keeps its stop-28 gate: the same stage did not help it.)
tune mmaif-reg reg-gateop --set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 \
  --set optim.lr=5e-3 --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true \
  --set degrade.full_range_fraction=1.0 --set losses.gradient=0 --set 'reset=["correction_gate"]' \
  --set 'model={correction_gate_bias=0.0,correction_gate_named=true}' \
  --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# stop 30: the same stage again, now that mmaif-reg.toml's model table also restores low resolution
# (VIF, MFF) with the restorer, on the frames that look up-sampled (fusecli.restore.looks_upsampled);
# the dotted override keeps that model table. Best at the last step.
tune mmaif-reg reg-gate-ds --set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 \
  --set optim.lr=5e-3 --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true \
  --set degrade.full_range_fraction=1.0 --set losses.gradient=0 --set 'reset=["correction_gate"]' \
  --set model.correction_gate_bias=0.0 --set model.correction_gate_hard=false \
  --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# stop 30, mmaif-flow: a short fine-tune with the same low-resolution restoration (its own gate
# kept: no reset), best at step 200 of 400.
tune mmaif-flow flow-ds-ft --set seed=6 --set data.crop=256 --set data.batch=4 --set steps=400 --set optim.lr=5e-5 \
  --set optim.warmup=20 --set validation.every=200 --set threads=2 --set 'reset=[]' \
  --set 'init={model="../../weights/mmaif-flow.safetensors"}' \
  --set 'model.restore={vif=["gaussian_noise","jpeg","ir_stripes","low_contrast","downsample"],mef=["gaussian_noise","jpeg","haze","low_contrast"],mff=["gaussian_noise","jpeg","haze","low_contrast","downsample"]}' \
  --set 'model.learned_restore=["jpeg","downsample"]' --set model.correction_gate_named=false --set model.correction_gate_hard=false
# stop 31: mmaif-reg's gate alone once more, now the hard sigmoid of mmaif-reg.toml's model table
# (correction_gate_hard: it can shut exactly), trained on minus the per-image PSNR to the teacher
# (losses.target_psnr, in place of the L1), so that a base which is nearly exact still pulls it
# shut. Best at step 100 of 500.
GATE31=(--set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 --set optim.lr=5e-3
        --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true --set degrade.full_range_fraction=1.0
        --set losses.gradient=0 --set losses.target_l1=0 --set losses.target_psnr=1 --set 'reset=["correction_gate"]'
        --set model.correction_gate_bias=0.0 --set model.correction_gate_named=true --set model.correction_gate_hard=true)
tune mmaif-reg reg-gate-hard "${GATE31[@]}" --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# stop 31, mmaif-flow: the same stage for its gate (its stop-28 gate replaced by mmaif-reg's kind:
# named degradations, hard sigmoid), everything else frozen. Best at step 100 of 500.
tune mmaif-flow flow-gate-hard "${GATE31[@]}" \
  --set 'freeze=["autoencoder","restorer","text","source_proj","role","base_proj","detail_gate","merge","task","prompt_proj","blocks","norm_out","adaln_out","head","state_proj","time"]' \
  --set 'init={model="../../weights/mmaif-flow.safetensors"}'
