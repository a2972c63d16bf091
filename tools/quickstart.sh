#!/usr/bin/env bash
# The README's first job, with nothing to download: train a small VMamba on scikit-learn's handwritten digits,
# then classify the held-out images and draw them with their predicted labels.
#
#   bash tools/quickstart.sh [extra tools/train.py args, e.g. --cfg-options train_cfg.max_epochs=5]
#
# Env: CONFIG, DATA_DIR (default data/digits), WORK_DIR (work_dirs/quickstart), OUT_DIR (outputs/quickstart).
# The console shows one line per epoch, the held-out accuracy every 5 epochs and where the files went; the full
# log (environment, config, hooks) is in ${WORK_DIR}/<timestamp>/<timestamp>.log.
# Threads: one compute thread + one data-loading worker = 2 cores. On a many-core machine set OMP_NUM_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-configs/quickstart/vmamba-digits_1xb64_20e.py}
DATA_DIR=${DATA_DIR:-data/digits}
WORK_DIR=${WORK_DIR:-work_dirs/quickstart}
OUT_DIR=${OUT_DIR:-outputs/quickstart}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PY=${PYTHON:-python}

echo "== 1/3 export scikit-learn digits to ${DATA_DIR}"
$PY tools/prepare_digits.py "${DATA_DIR}"

echo "== 2/3 train ${CONFIG}"
start=$SECONDS
$PY tools/train.py "${CONFIG}" --work-dir "${WORK_DIR}" --brief \
    --cfg-options "train_dataloader.dataset.data_root=${DATA_DIR}" "val_dataloader.dataset.data_root=${DATA_DIR}" \
    "test_dataloader.dataset.data_root=${DATA_DIR}" "$@"
train_s=$((SECONDS - start))
ckpt=$(cat "${WORK_DIR}/last_checkpoint")
run_cfg="${WORK_DIR}/$(basename "${CONFIG}")"  # the config as trained (with any --cfg-options), dumped by mmengine

echo "== 3/3 classify the held-out images in ${DATA_DIR}/val"
$PY tools/infer.py "${DATA_DIR}/val" --config "${run_cfg}" --checkpoint "${ckpt}" --out-dir "${OUT_DIR}" \
    --gt-from-parent --overwrite --no-progress

$PY - "${OUT_DIR}/predictions.json" "${train_s}" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"\nheld-out top-1 accuracy: {r['top1_accuracy']:.2f}% on {r['num_predicted']} images "
      f"(training took {sys.argv[2]} s)")
PYEOF
echo "predictions: ${OUT_DIR}/predictions.json, ${OUT_DIR}/predictions.csv; picture: ${OUT_DIR}/contact_sheet.png"
