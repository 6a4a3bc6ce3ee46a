#!/usr/bin/env bash
# GPU-machine check of the CUDA backend, needing no Node: configure and build the native
# engine with CUDA forced on (no addon), run the CPU ctests, every CUDA op against the CPU
# op (once), and the SCC benchmark. A machine where no CUDA device can be used FAILS this
# script: it exists to prove the GPU path, and a `skip:` proves nothing.
# Logs go to $OUT when set (else ./gpu-check-logs), and a summary to stdout.
# Usage: native/test/gpu-check.sh [build-dir]   (from anywhere in the repo)
# Environment: JOBS (default: all cores), ARCHS (e.g. "90" to compile only sm_90, much
# faster), SKIP_BENCH=1 (short mode for a first run on scarce device time), BENCH_BATCH
# (default 128), BENCH_REPS (default 10), EMU=1 to also build and run the CPU emulation of
# the CUDA kernels (slow; CI-style machines run it without a GPU).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
native="$(cd "$here/.." && pwd)"
build="${1:-/tmp/dsx-gpu-check}"
logs="${OUT:-$PWD/gpu-check-logs}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$logs"

fail() { echo "gpu-check: FAILED: $*"; exit 1; }

step() {  # step NAME CMD...: run, log to $logs/NAME.log, report the time and exit status
  local name="$1"; shift
  local t0
  t0=$(date +%s)
  "$@" >"$logs/$name.log" 2>&1
  local rc=$?
  echo "[$name] exit $rc in $(( $(date +%s) - t0 ))s (log: $logs/$name.log)"
  return $rc
}

# nvcc is often installed but not on PATH (the toolkit's default location).
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
    if [ -x "$d/nvcc" ]; then export PATH="$d:$PATH"; break; fi
  done
fi
command -v nvcc >/dev/null || fail "nvcc not found on PATH nor in /usr/local/cuda*/bin; install the CUDA toolkit"
export CUDACXX="$(command -v nvcc)"

{
  echo "host: $(hostname)  date: $(date -u +%FT%TZ)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  else
    echo "nvidia-smi: not found"
  fi
  nvcc --version 2>&1 | tail -1
  cmake --version | head -1
} | tee "$logs/machine.txt"

cfg=(-S "$native" -B "$build" -DDSX_CUDA=ON -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && cfg+=(-G Ninja)
if [ "${EMU:-0}" = 1 ]; then cfg+=(-DDSX_CUDA_EMU_TEST=ON); else cfg+=(-DDSX_CUDA_EMU_TEST=OFF); fi
[ -n "${ARCHS:-}" ] && cfg+=("-DDSX_CUDA_ARCHITECTURES=${ARCHS}")
step configure cmake "${cfg[@]}" || { tail -30 "$logs/configure.log"; fail "cmake configure"; }
step build cmake --build "$build" -j "$jobs" || { grep -E "error|Error" "$logs/build.log" | head -40; fail "build"; }

status=0
# the CPU-side ctests (the CUDA op checks run once, below, where their output is read)
step ctest ctest --test-dir "$build" --output-on-failure --timeout 900 -E '^cuda_ops$' || status=1
grep -E "tests passed|tests failed|Failed|\*\*\*" "$logs/ctest.log"

step cuda_ops "$build/test/cuda_check" || status=1
grep -E "^(build|device|skip)|FAIL|checks, |^  parity " "$logs/cuda_ops.log"
# the verdict on the counts is gpu-check-parse.sh's (tested on recorded lines in CI)
parsed=$("$here/gpu-check-parse.sh" "$logs/cuda_ops.log") || status=1
echo "$parsed"
grep -q "no usable CUDA device" <<<"$parsed" && fail "$(sed -n 's/^verdict: FAIL: //p' <<<"$parsed")"
counts=$(head -1 <<<"$parsed")

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  step bench "$build/test/cuda_check" --bench --batch "${BENCH_BATCH:-128}" --reps "${BENCH_REPS:-10}" || status=1
  cat "$logs/bench.log"
fi
echo "gpu-check: CUDA check counts: $counts"
echo "gpu-check: $([ $status = 0 ] && echo PASSED || echo FAILED)"
exit $status
