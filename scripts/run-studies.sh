#!/usr/bin/env bash
# Run the committed studies (configs/study-*.json) and write their results folders:
#   results/study-NAME/{README.md, accuracy-macs.svg, front.csv, dsxplore.db}
# README.md is the findings page (`dsxplore report --format markdown`) with the study's notes
# from configs/study-NAME.md; sweep.log (JSON lines) stays beside it, uncommitted. A finished
# store keeps the weights of its front only (scripts/slim-study-store.ts).
#
# Plan (configs/study-*.md): one thread per trial (the configs pin recipe.threads = 1); both
# studies at once on 2 cores, or one study with STUDY_JOBS=2 (the ResNet-20 rerun). An
# interrupted run continues where it stopped when the script is started again (sweep
# --resume); finished trials are kept.
#
#   scripts/run-studies.sh                   # both studies, concurrently
#   scripts/run-studies.sh study-resnet20    # one of them
#   scripts/run-studies.sh --report-only     # rewrite the pages from the stores, no training
#   STUDY_JOBS=2 scripts/run-studies.sh study-resnet20   # one study, two trials at a time
set -uo pipefail
cd "$(dirname "$0")/.."

report_only=0
studies=()
for a in "$@"; do
  case "$a" in
    --report-only) report_only=1 ;;
    study-*) studies+=("$a") ;;
    *) echo "usage: $0 [--report-only] [study-resnet20] [study-mobilenet]" >&2; exit 2 ;;
  esac
done
[ ${#studies[@]} -gt 0 ] || studies=(study-resnet20 study-mobilenet)

for s in "${studies[@]}"; do
  [ -f "configs/$s.json" ] || { echo "no configs/$s.json" >&2; exit 2; }
done
if [ "$report_only" = 0 ] && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "Fashion-MNIST is missing: apt-get install dataset-fashion-mnist" >&2
  exit 1
fi
[ -f dist/cli.js ] || npm run build:ts >/dev/null || exit 1

page() {
  local s=$1 dir=results/$1
  bin/dsxplore report --db "$dir/dsxplore.db" --sweep "$s" --format markdown --out "$dir/README.md" --notes "configs/$s.md"
}

run() {
  local s=$1 dir=results/$1 resume=()
  mkdir -p "$dir"
  [ -f "$dir/dsxplore.db" ] && resume=(--resume)
  local t0; t0=$(date +%s)
  echo "$(date -u +%FT%TZ) $s: sweep started${resume:+ (resuming)}"
  bin/dsxplore sweep --config "configs/$s.json" --db "$dir/dsxplore.db" --device cpu --json "${resume[@]}" \
    ${STUDY_JOBS:+--jobs "$STUDY_JOBS"} >>"$dir/sweep.log" 2>&1
  local rc=$?
  echo "$(date -u +%FT%TZ) $s: sweep exited $rc after $(( ($(date +%s) - t0) / 60 )) min (log: $dir/sweep.log)"
  page "$s" || rc=1
  # the front's weights only, vacuumed: small enough to commit
  [ "$rc" = 0 ] && { node --import tsx scripts/slim-study-store.ts --db "$dir/dsxplore.db" --sweep "$s" || rc=1; }
  return $rc
}

if [ "$report_only" = 1 ]; then
  rc=0
  for s in "${studies[@]}"; do page "$s" || rc=1; done
  exit $rc
fi

pids=()
for s in "${studies[@]}"; do
  run "$s" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
