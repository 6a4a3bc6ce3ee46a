#!/usr/bin/env bash
# GPU-machine check of the CUDA backend, needing no Node: configure and build the native
# engine with CUDA forced on (no addon), run ctest (every CUDA op vs the CPU op) and the SCC
# benchmark, all in one go. Logs go to $OUT when set (else ./gpu-check-logs), and a summary
# to stdout. Usage: native/test/gpu-check.sh [build-dir]   (from anywhere in the repo)
# Environment: JOBS (default: all cores), ARCHS (e.g. "90" to compile only sm_90 for speed),
# BENCH_BATCH (default 128), BENCH_REPS (default 10), SKIP_BENCH=1, EMU=1 to also build and
# run the CPU emulation check (slow, and CI runs it anyway).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
native="$(cd "$here/.." && pwd)"
build="${1:-/tmp/dsx-gpu-check}"
logs="${OUT:-$PWD/gpu-check-logs}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$logs"
status=0

step() {  # step NAME CMD...: run, log to $logs/NAME.log, report the time and exit status
  local name="$1"; shift
  local t0=$(date +%s)
  "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  echo "[$name] exit $rc in $(( $(date +%s) - t0 ))s (log: $logs/$name.log)"
  return $rc
}

{
  echo "host: $(hostname)  date: $(date -u +%FT%TZ)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  nvcc --version 2>&1 | tail -1 || true
  cmake --version | head -1
} | tee "$logs/machine.txt"

cfg=(-S "$native" -B "$build" -DDSX_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
if [ "${EMU:-0}" = 1 ]; then cfg+=(-DDSX_CUDA_EMU_TEST=ON); else cfg+=(-DDSX_CUDA_EMU_TEST=OFF); fi
[ -n "${ARCHS:-}" ] && cfg+=("-DDSX_CUDA_ARCHITECTURES=${ARCHS}")
step configure cmake "${cfg[@]}" || { tail -30 "$logs/configure.log"; exit 1; }
step build cmake --build "$build" -j "$jobs" || { grep -E "error|Error" "$logs/build.log" | head -40; exit 1; }
step ctest ctest --test-dir "$build" --output-on-failure --timeout 900 || status=1
# the harness output itself (max error and time per kernel), not only ctest's verdict
"$build/test/cuda_check" >"$logs/cuda_check.log" 2>&1 || status=1
grep -E "^(build|device|skip|cuda_ops)|FAIL" "$logs/cuda_check.log"
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  step bench "$build/test/cuda_check" --bench --batch "${BENCH_BATCH:-128}" --reps "${BENCH_REPS:-10}" || status=1
  cat "$logs/bench.log"
fi
echo "gpu-check: $([ $status = 0 ] && echo PASSED || echo FAILED)"
exit $status
