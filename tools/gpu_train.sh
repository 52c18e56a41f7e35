#!/bin/bash
# Several `lowface train` runs side by side on one rented GPU (the device tool), each NAME="its arguments" (a
# config and overrides); each run's folder (weights, snapshots, log, config; no optimizer checkpoint) comes back as one
# archive in $OUT, its console log beside it. Data packed beforehand by `python tools/pack_training_data.py --out
# .gpu/data --sice-split train --features .gpu/lite0-features.safetensors` (LFW training faces, SICE train scenes,
# the feature-loss layers; CelebA and the frozen FaceNet stay behind: the tool carries 64 MiB at most, so no face
# identity term and -s face_sets=[lfw] where a config names CelebA), init weights copied under .gpu/.
#   run (device tool), carry [".gpu"]:
#     MINUTES=7 bash tools/gpu_train.sh NAME="-c CONFIG -s key=value ..." NAME2="-c ..." ...
# Runs of record (their commands in the results' READMEs): 2026-12-01 configs/restore-real/ (four configs,
# benchmarks/results/restore_real/), 2026-12-04 configs/fast-tone/tone.yaml (four variants of one config, two rounds,
# benchmarks/results/fast_tone/).
set -u
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 TQDM_MININTERVAL=60
nvidia-smi -L; nproc; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
date
names=()
for variant in "$@"; do
  name=${variant%%=*}
  names+=("$name")
  # shellcheck disable=SC2086  # the variant's overrides are words
  python3 -m lowface.cli train ${variant#*=} -s data_root=.gpu/data -s features_weights=.gpu/lite0-features.safetensors \
    -s max_minutes="${MINUTES:-7}" -s out_dir="runs/gpu/$name" > "$OUT/$name.log" 2>&1 &
done
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv; uptime
wait
date
for name in "${names[@]}"; do
  tar czf "$OUT/$name.tar.gz" --exclude=checkpoint.pt "runs/gpu/$name"
done
ls -la "$OUT"; tail -n 2 "$OUT"/*.log
