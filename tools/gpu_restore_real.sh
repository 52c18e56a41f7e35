#!/bin/bash
# The restore-real GPU run (2026-12-01): the four configs of configs/restore-real/ side by side on one GPU, data
# packed by `python tools/pack_training_data.py --out .gpu/data --sice-split train --features
# .gpu/lite0-features.safetensors` and v4's CPU weights copied to .gpu/init/ (CelebA stays behind: with it the tree
# passes the tool's 64 MiB); each run's folder (weights, snapshots, log, config; no optimizer checkpoint) comes back
# as one archive in $OUT.
#   run (device tool): bash tools/gpu_restore_real.sh    with carry [".gpu"]
set -u
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 TQDM_MININTERVAL=60
nvidia-smi -L; nproc; python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())"
date
MINUTES=${MINUTES:-7.3}  # per session: a resumed run trains this long again
for c in full-d4 full-d8 fast-d4 fast-d8; do
  init=()
  [[ $c == full-* ]] && init=(-s init_from=.gpu/init/restore-v4-2950.safetensors)
  python3 -m lowface.cli train -c configs/restore-real/$c.yaml -s data_root=.gpu/data \
    -s features_weights=.gpu/lite0-features.safetensors -s max_minutes=$MINUTES -s "face_sets=[lfw]" "${init[@]}" > $OUT/$c.log 2>&1 &
done
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv; uptime
wait
date
for c in full-d4 full-d8 fast-d4 fast-d8; do
  tar czf $OUT/$c.tar.gz --exclude=checkpoint.pt runs/restore-real/$c
done
ls -la $OUT; tail -n 2 $OUT/*.log
