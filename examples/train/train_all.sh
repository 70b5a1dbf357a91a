#!/usr/bin/env bash
# Train every shipped weights file and export the best checkpoints to weights/ (float16).
#
# Two chains run in parallel on 2 CPU cores (one thread each): the MoE-Fusion models, and the
# autoencoder, restorer and a first all-in-one regression model. The all-in-one models are then
# grown stage by stage, each stage a fine-tune of the exported file before it:
#   1. mmaif-reg without a classical base (a longer CPU run; two GPU runs where CUDA is present);
#   2. its classical base, then the base's detail gate, then the prompt-named restorations of the
#      base's frames, then 256-px crops;
#   3. the learned restorer put, frozen, into it, for JPEG prompts;
#   4. the per-image correction gate;
#   5. the gate alone (everything else frozen), on whole frames, then again with low resolution
#      restored by the restorer;
#   6. the gate alone, trained on per-image PSNR, so a base that is exactly right keeps it shut;
#   7. free-form wording: new words in its text encoder, taught to encode paraphrases as the
#      generator's sentences (examples/train/mmaif-words.toml).
# The flow-matching variant (examples/train/mmaif-flow.toml) is not among them: see its header.
# Usage: bash examples/train/train_all.sh   (data folders: see README, "Training")
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs
T="--set threads=1"
# mmaif-reg.toml's model table is the shipped design; the early stages override parts of it:
# no classical base yet (NOBASE), no learned restorer yet (NO_RESTORER), the first set of
# prompt restorations (FIRST_RESTORE)
NOBASE=(--set 'model={variant="regression"}')
NO_RESTORER=(--set 'freeze=["autoencoder"]')
FIRST_RESTORE=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,restore={vif=["gaussian_noise","jpeg","ir_stripes"],mef=["gaussian_noise","jpeg","haze"],mff=["gaussian_noise","jpeg","haze","low_contrast"]}}')
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
  # blend-vif: the config's run, then more weight on Qcb and min SSIM from its best checkpoint
  python -m fusecli -q train examples/train/blend-vif.toml $T
  tune blend-vif blend-vif-ft $T --set 'init.model="../../runs/blend-vif/checkpoints/best.safetensors"' \
    --set losses.qcb=3.0 --set losses.min_ssim=3.0 --set steps=600 --set optim.warmup=20
) > runs/chain-a.log 2>&1 &
(
  python -m fusecli -q train examples/train/autoencoder.toml $T
  export_best autoencoder
  python -m fusecli -q train examples/train/restorer.toml $T
  export_best restorer
  python -m fusecli -q train examples/train/mmaif-reg.toml $T "${NOBASE[@]}" "${NO_RESTORER[@]}" \
    --set 'init={autoencoder="../../weights/autoencoder.safetensors"}'
  export_best mmaif-reg
) > runs/chain-b.log 2>&1 &
wait

# mmaif-reg: 8,000 more steps on CPU from the exported model (paths below are relative to the config)
python -m fusecli -q train examples/train/mmaif-reg.toml "${NOBASE[@]}" "${NO_RESTORER[@]}" --set threads=2 --set out=../../runs/mmaif-reg-ft \
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
  gpu_tune mmaif-reg mmaif-reg-gpu1 weights/mmaif-reg.safetensors 1500 1 5e-4 "${NOBASE[@]}" "${NO_RESTORER[@]}"
  gpu_tune mmaif-reg mmaif-reg-gpu2 runs/mmaif-reg-gpu1/checkpoints/best.safetensors 2700 2 2e-4 "${NOBASE[@]}" "${NO_RESTORER[@]}"
  export_best mmaif-reg-gpu2 mmaif-reg
fi

# mmaif-reg with its classical base (the config's model table adds it): the network now corrects
# the training-free fusion of the (degraded) inputs instead of re-making it; fine-tuned on CPU
# from the file above with a fresh (zero) head, so it starts exactly at the classical fusion
python -m fusecli -q train examples/train/mmaif-reg.toml "${NO_RESTORER[@]}" --set threads=2 --set out=../../runs/mmaif-reg-base \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' --set 'reset=["head"]' \
  --set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"}}' \
  --set steps=6000 --set optim.lr=5e-4 --set optim.warmup=100 --set validation.every=1000
export_best mmaif-reg-base mmaif-reg
# ... and then its detail gate (nearly open at the start)
python -m fusecli -q train examples/train/mmaif-reg.toml "${NO_RESTORER[@]}" --set threads=2 --set out=../../runs/mmaif-reg-detail \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' \
  --set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true}' \
  --set steps=2000 --set optim.lr=3e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-detail mmaif-reg
# ... and with the first set of prompt restorations: the base restores what the prompt names
python -m fusecli -q train examples/train/mmaif-reg.toml "${NO_RESTORER[@]}" "${FIRST_RESTORE[@]}" --set threads=2 --set out=../../runs/mmaif-reg-restore \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' \
  --set steps=2000 --set optim.lr=3e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-restore mmaif-reg
# ... and on 256² crops (batch 4): corrections of haze and tone learned on 128² crops do not
# carry over to whole images
python -m fusecli -q train examples/train/mmaif-reg.toml "${NO_RESTORER[@]}" "${FIRST_RESTORE[@]}" --set threads=2 --set out=../../runs/mmaif-reg-crop256 \
  --set 'init={model="../../weights/mmaif-reg.safetensors"}' --set seed=1 --set data.crop=256 --set data.batch=4 \
  --set steps=1500 --set optim.lr=2e-4 --set optim.warmup=50 --set validation.every=500
export_best mmaif-reg-crop256 mmaif-reg

# The restorer (trained in chain b) put, frozen, into the all-in-one model, which runs it on its
# base's frames for JPEG prompts; a short fine-tune so the correction adapts.
LEARNED=(--set seed=6 --set data.crop=256 --set data.batch=4 --set steps=400 --set optim.lr=5e-5 --set optim.warmup=20
         --set validation.every=200 --set threads=2)
# (this stage's model table: the correction gate and more restorations come later)
WITH_RESTORER=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,restore={vif=["gaussian_noise","jpeg","ir_stripes"],mef=["gaussian_noise","jpeg","haze"],mff=["gaussian_noise","jpeg","haze","low_contrast"]},learned_restore=["jpeg"],restorer={ops=["jpeg","downsample"]}}')
tune mmaif-reg mmaif-reg-learned "${LEARNED[@]}" "${WITH_RESTORER[@]}" \
  --set 'init={model="../../weights/mmaif-reg.safetensors",restorer="../../weights/restorer.safetensors"}'

# The per-image correction gate, which weighs the network's change to its restored base, and
# contrast restoration for VIF and MEF prompts too; a short fine-tune.
GATE_TUNE=(--set seed=12 --set data.crop=256 --set data.batch=4 --set steps=800 --set optim.lr=1e-4 --set optim.warmup=20
        --set validation.every=200 --set threads=2)
# (this stage's model table: low-resolution restoration comes later)
GATED=(--set 'model={variant="regression",base={vif="pyramid-vif",mef="exposure-fusion",mff="focus-fusion"},detail=true,correction_gate=true,restore={vif=["gaussian_noise","jpeg","ir_stripes","low_contrast"],mef=["gaussian_noise","jpeg","haze","low_contrast"],mff=["gaussian_noise","jpeg","haze","low_contrast"]},learned_restore=["jpeg"],restorer={ops=["jpeg","downsample"]}}')
tune mmaif-reg mmaif-reg-gate "${GATE_TUNE[@]}" "${GATED[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'

# everything of mmaif-reg but its correction gate
REG_FROZEN=('freeze=["autoencoder","restorer","text","source_proj","role","base_proj","detail_gate","merge","task","prompt_proj","blocks","norm_out","adaln_out","head"]')
# mmaif-reg's correction gate alone, re-set half open (correction_gate_bias = 0), everything else
# frozen; on whole-frame crops (restorations with whole-frame statistics, as at inference) whose
# low-contrast samples are stretched to full range first (as natural frames are), with the L1 to
# the teacher only (the Sobel term against the sources rewards any extra edge, and keeps the gate
# open on bases that are already exact).
tune mmaif-reg reg-gateop --set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 \
  --set optim.lr=5e-3 --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true \
  --set degrade.full_range_fraction=1.0 --set losses.gradient=0 --set 'reset=["correction_gate"]' \
  --set 'model={correction_gate_bias=0.0}' \
  --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# The same stage again with mmaif-reg.toml's whole model table, which also restores low resolution
# (VIF, MFF) with the restorer, on the frames that look up-sampled (fusecli.restore.looks_upsampled);
# the dotted override keeps that model table.
tune mmaif-reg reg-gate-ds --set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 \
  --set optim.lr=5e-3 --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true \
  --set degrade.full_range_fraction=1.0 --set losses.gradient=0 --set 'reset=["correction_gate"]' \
  --set model.correction_gate_bias=0.0 \
  --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# mmaif-reg's gate alone once more, trained on minus the per-image PSNR to the teacher
# (losses.target_psnr, in place of the L1), so that a base which is nearly exact still pulls it
# shut (the gate is a hard sigmoid: it can shut exactly).
GATE_PSNR=(--set seed=17 --set threads=2 --set data.crop=256 --set data.batch=4 --set steps=500 --set optim.lr=5e-3
        --set optim.warmup=20 --set validation.every=100 --set degrade.whole_frames=true --set degrade.full_range_fraction=1.0
        --set losses.gradient=0 --set losses.target_l1=0 --set losses.target_psnr=1 --set 'reset=["correction_gate"]'
        --set model.correction_gate_bias=0.0)
tune mmaif-reg reg-gate-hard "${GATE_PSNR[@]}" --set "${REG_FROZEN[@]}" --set 'init={model="../../weights/mmaif-reg.safetensors"}'
# Free-form wording: the paraphrases' words in mmaif-reg's text encoder, nothing else trained
python -m fusecli -q train examples/train/mmaif-words.toml --set threads=2
export_best mmaif-words mmaif-reg
