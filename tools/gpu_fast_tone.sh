#!/bin/bash
# The fast-tone GPU run (2026-12-04, issue 20): four variants of configs/fast-tone/tone.yaml side by side on one GPU,
# data packed by `python tools/pack_training_data.py --out .gpu/data --sice-split train --features
# .gpu/lite0-features.safetensors` (CelebA and the frozen FaceNet stay behind: the tool takes 64 MiB at most, so no
# face identity term); each run's folder (weights, snapshots, log, config; no optimizer checkpoint) comes back as one
# archive in $OUT, its console log beside it.
#   run (device tool): bash tools/gpu_fast_tone.sh    with carry [".gpu"]
#   round 2 (same day): ROUND=capped MINUTES=3.3 bash tools/gpu_fast_tone.sh
set -u
export PYTHONPATH=$PWD/src${EXTRA_PYTHONPATH:+:$EXTRA_PYTHONPATH} PYTHONUNBUFFERED=1 TQDM_MININTERVAL=60
nvidia-smi -L; nproc; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
date
MINUTES=${MINUTES:-6.8}
declare -A VARIANT=(
  [ref]=""
  [matched]="-s sice_exposure=matched"
  [tone-only]="-s train_only=[tone] -s lr=2.0e-4"
  [ref-w8]="-s model.tone_width=8"
)
if [[ ${ROUND:-1} == capped ]]; then  # round 2: the head trained under the lift cap it ships with (0.25, margin 0)
  capped="-s train_only=[tone] -s model.tone_lift_cap=0.25 -s model.tone_lift_margin=0.0 -s snapshot_every=250"
  VARIANT=(
    [capped]="$capped -s lr=2.0e-4"
    [capped-lr1]="$capped -s lr=1.0e-4"
    [capped-faces]="$capped -s lr=2.0e-4 -s sice_share=0.3"
    [capped-w8]="$capped -s lr=2.0e-4 -s model.tone_width=8"
  )
fi
for name in "${!VARIANT[@]}"; do
  # shellcheck disable=SC2086  # the variant's overrides are words
  python3 -m lowface.cli train -c configs/fast-tone/tone.yaml -s data_root=.gpu/data \
    -s features_weights=.gpu/lite0-features.safetensors -s max_minutes="$MINUTES" -s out_dir="runs/fast-tone/$name" \
    ${VARIANT[$name]} > "$OUT/$name.log" 2>&1 &
done
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv; uptime
wait
date
for name in "${!VARIANT[@]}"; do
  tar czf "$OUT/$name.tar.gz" --exclude=checkpoint.pt "runs/fast-tone/$name"
done
ls -la "$OUT"; tail -n 3 "$OUT"/*.log
