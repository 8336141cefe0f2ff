#!/usr/bin/env bash
# GPU checks of issues 3, 12 and 23, for a machine with CUDA (run from the repository root):
#   1. DDP with NCCL: `rvhpc train` under torchrun on 2 GPUs (1 when only one is present) on a
#      small synthetic store; exactly one complete result must appear.
#   2. CUDA throughput of EA-LSTM and CT-LSTM vs the per-step baseline (benchmarks/bench_training.py,
#      targets >= 5x for EA, >= 10x for CT).
#   3. The packed K sweep in fp32 and tf32.
#   4. --numerics portable (deterministic algorithms): two runs on this GPU, the same bits.
# Results go to ${OUT:-gpu-check-out}/ (bench_training_cuda.json, ddp.log, bench.log,
# packed.log, numerics.log).
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA"; print("torch", torch.__version__, "GPUs", torch.cuda.device_count(), torch.cuda.get_device_name(0))'
NGPU=$("$PY" -c 'import torch; print(min(2, torch.cuda.device_count()))')

# 1. NCCL DDP on a small synthetic store
"$PY" - "$OUT" <<'PYEOF'
import sys
from rvhpc import progress
from rvhpc.data.store import prepare_store
from rvhpc.data.synth import synthesize
progress.set_quiet(True)
out = sys.argv[1]
s = synthesize(f"{out}/camels", n_basins=8, start="1998-01-01", end="2003-09-30", seed=0)
prepare_store(s.root, s.basin_file, f"{out}/store.h5", train_period=("2000-10-01", "2003-09-30"),
              eval_period=("1999-01-01", "2000-09-30"))
PYEOF
rm -rf "$OUT/ddp-run"
TORCHRUN=$(dirname "$(command -v "$PY")")/torchrun
[ -x "$TORCHRUN" ] || TORCHRUN="$PY -m torch.distributed.run"
$TORCHRUN --standalone --nproc_per_node "$NGPU" -m rvhpc train --store "$OUT/store.h5" --out "$OUT/ddp-run" \
  --epochs 2 --hidden 64 --seq-length 270 --batch-size 256 --device cuda 2>&1 | tee "$OUT/ddp.log" | grep -v "/[0-9]* loss" || true
if [ ! -f "$OUT/ddp-run/DONE" ]; then echo "DDP FAILED: no DONE in $OUT/ddp-run (see $OUT/ddp.log)"; exit 1; fi
"$PY" - "$OUT/ddp-run" <<'PYEOF'
import sys, pandas as pd
run = sys.argv[1]
p = pd.read_parquet(f"{run}/predictions.parquet")
assert not p.duplicated(["basin", "date"]).any() and p["basin"].nunique() == 8 and p["qsim"].notna().all()
print(f"DDP OK: {len(p)} predictions, metrics of {len(pd.read_csv(f'{run}/metrics.csv'))} basins")
PYEOF

# 2. CUDA throughput, rvhpc vs baseline (data loading included)
"$PY" -m benchmarks.bench_training --device cuda --steps 20 --warmup 3 --out "$OUT/bench_training_cuda.json" \
  --workdir "$OUT/bench_work" 2>&1 | tee "$OUT/bench.log"
"$PY" -m rvhpc bench --arch ea --device cuda --steps 20 --json | tee -a "$OUT/bench.log"
"$PY" -m rvhpc bench --arch ct --device cuda --steps 20 --json | tee -a "$OUT/bench.log"

# 3. Packed training (issue 12): the K sweep (1, 2, 5, 10) of every arch against today's path
#    (commit BASELINE_REF of benchmarks/bench_packed.py), on CUDA in fp32 (strict) and tf32.
#    Paper size (hidden 256, batch 256, seq 270); the JSON feeds `rvhpc grid show paper
#    --estimate --rates "$OUT/packed_cuda_fp32.json"` (projected device-hours of the paper grid).
"$PY" -m benchmarks.bench_packed --device cuda --hidden 256 --batch-size 256 --seq-length 270 \
  --steps 10 --warmup 2 --out "$OUT/packed_cuda_fp32.json" 2>&1 | tee "$OUT/packed.log"
"$PY" -m benchmarks.bench_packed --precision tf32 --device cuda --hidden 256 --batch-size 256 \
  --seq-length 270 --steps 10 --warmup 2 --out "$OUT/packed_cuda_tf32.json" 2>&1 | tee -a "$OUT/packed.log"
"$PY" -m rvhpc grid show paper --rates "$OUT/packed_cuda_fp32.json" | tail -n 2 | tee -a "$OUT/packed.log"

# 4. Numerics (issue 23): --numerics portable on a GPU turns deterministic algorithms on; two runs
#    of one cell on this GPU must give the same bits (across GPU models nothing is promised).
for k in 1 2; do
  rm -rf "$OUT/portable-$k"
  "$PY" -m rvhpc train --store "$OUT/store.h5" --out "$OUT/portable-$k" --epochs 2 --hidden 64 \
    --seq-length 270 --batch-size 256 --device cuda --numerics portable 2>&1 | tail -n 1 | tee -a "$OUT/numerics.log"
done
"$PY" - "$OUT/portable-1" "$OUT/portable-2" <<'PYEOF' 2>&1 | tee -a "$OUT/numerics.log"
import sys, pandas as pd
a, b = (pd.read_parquet(f"{run}/predictions.parquet") for run in sys.argv[1:])
same = a.equals(b)
print(f"portable on this GPU: {'the same bits' if same else 'DIFFERENT bits'} in two runs")
sys.exit(0 if same else 1)
PYEOF
