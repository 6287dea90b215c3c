#!/usr/bin/env bash
# The one prepared GPU measurement of the project, run on the lent GPU
# machine from the project root (see docs/benchmarks.md for the figures):
#   bash ../shared/gpu/fetch_wheels.sh           # here: wheels into .whl/
#   bash tools/analysis/gpu_check.sh             # there, with .whl carried
# ONLY=prompter | alpro | retrieval runs one part, to fit one device call
# (10 minutes at most each): alpro and retrieval are the open rows. Writes
# full logs under $OUT (or work_dirs/gpu_check), each row's wall time in
# log.txt, and prints a summary.
set -uo pipefail
OUT=${OUT:-work_dirs/gpu_check}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
fi
export ALPRO_DISABLE_PLUGIN_AUTOLOAD=1
PEAK=${PEAK_TFLOPS:-773}  # measured H100 bf16 dense matmul ceiling

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, transformers, timm, mmengine; \
print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'transformers', transformers.__version__, 'timm', timm.__version__, \
'mmengine', mmengine.__version__)"
} 2>&1 | tee "$OUT/env.txt"

run() {  # name, command...
  local name=$1
  shift
  echo "== $name: $*" | tee -a "$OUT/log.txt"
  local start=$SECONDS
  "$@" >"$OUT/$name.txt" 2>&1
  local status=$?
  tail -n 1 "$OUT/$name.txt" | tee -a "$OUT/log.txt"
  echo "   ($((SECONDS - start)) s)" | tee -a "$OUT/log.txt"
  [ $status -eq 0 ] || echo "   (exit $status, see $OUT/$name.txt)" | tee -a "$OUT/log.txt"
}

BENCH=tools/analysis/benchmark_train_step.py

prompter_rows() {  # ALPRO stage 1 (the prompter)
  local cfg=configs/alpro/pretrain_prompter_webvid.py
  run flops_prompter python3 tools/analysis/get_flops.py "$cfg"
  for batch in 16 64; do
    run "prompter_b${batch}_fp32" python3 $BENCH "$cfg" \
      --batch-size "$batch" --iters 10 --warmup 3 --peak-tflops "$PEAK"
    run "prompter_b${batch}_bf16" python3 $BENCH "$cfg" \
      --batch-size "$batch" --amp --iters 20 --warmup 5 --peak-tflops "$PEAK"
  done
  # the same step with MMEngine's defaults (AmpOptimWrapper with its grad
  # scaler, one parameter group per tensor, unfused AdamW), for comparison
  run prompter_b16_bf16_mmengine_defaults python3 $BENCH "$cfg" \
    --batch-size 16 --amp --iters 20 --warmup 5 --peak-tflops "$PEAK" \
    --cfg-options optim_wrapper.type=OptimWrapper \
    optim_wrapper.constructor=DefaultOptimWrapperConstructor \
    optim_wrapper.paramwise_cfg.norm_decay_mult=0.0 \
    optim_wrapper.paramwise_cfg.bias_decay_mult=0.0 \
    optim_wrapper.optimizer.fused=False
}

alpro_rows() {  # ALPRO stage 2: VTC + VTM + MLM + PEM with the prompter
  local cfg=configs/alpro/pretrain_webvid.py
  # most wanted first: a call cut by its time limit keeps the rows it ran
  run alpro_b16_bf16 python3 $BENCH "$cfg" --batch-size 16 --amp \
    --iters 20 --warmup 5 --peak-tflops "$PEAK" --count-ops \
    --profile "$OUT/profile_alpro_b16_bf16.txt"
  # the loss compiled (CompileHook, as tools/train.py --compile MODE) with
  # CUDA graphs, the likeliest to meet the target, then without them;
  # perf_hints: inductor says so when it cannot use CUDA graphs
  run alpro_b16_bf16_cudagraphs env TORCH_LOGS=perf_hints python3 $BENCH \
    "$cfg" --batch-size 16 --amp --compile reduce-overhead --iters 20 \
    --warmup 5 --peak-tflops "$PEAK" \
    --profile "$OUT/profile_alpro_b16_cudagraphs.txt"
  run alpro_b16_bf16_compiled python3 $BENCH "$cfg" --batch-size 16 --amp \
    --compile default --iters 20 --warmup 5 --peak-tflops "$PEAK"
  grep -h "skipping cudagraphs" "$OUT"/alpro_b16_bf16_*.txt | sort -u |
    tee -a "$OUT/log.txt"
  run alpro_b16_fp32 python3 $BENCH "$cfg" --batch-size 16 \
    --iters 10 --warmup 3 --peak-tflops "$PEAK"
  run flops_alpro python3 tools/analysis/get_flops.py "$cfg"
}

retrieval_rows() {  # evaluation of MSRVTT-1k retrieval, three protocols
  local cfg=configs/alpro/finetune_msrvtt_ret.py
  local tool=tools/analysis/benchmark_retrieval.py
  # a synthetic split and random weights: the costs of the real split,
  # metrics that only check the protocols agree. fp32 for the exactness
  # check (random weights give near-tied VTM scores, which bf16 rounding
  # may reorder), bf16 at full scale for the times
  run retrieval_match_128 python3 $tool "$cfg" random --synthetic 128 \
    --rerank-k 16
  run retrieval_1k_bf16 python3 $tool "$cfg" random --synthetic 1000 \
    --amp --rerank-k 128 --protocols exact topk original
}

# ONLY=prompter, alpro or retrieval measures one part (a short budget)
case "${ONLY:-all}" in
  prompter) prompter_rows ;;
  alpro) alpro_rows ;;
  retrieval) retrieval_rows ;;
  *) prompter_rows; alpro_rows; retrieval_rows ;;
esac

echo
echo "== summary"
summary=$(grep -h "samples/s\|GFLOPs\|host syncs\|aten ops\|^exact vs\|^original \|^exact \|^topk" \
  "$OUT"/flops_*.txt "$OUT"/*_b*.txt "$OUT"/retrieval_*.txt 2>/dev/null)
echo "$summary" | tee "$OUT/summary.txt"
