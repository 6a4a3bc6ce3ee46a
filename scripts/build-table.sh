#!/usr/bin/env bash
# Build the tabular benchmark results/table-resnet20/ (configs/table-resnet20.json and .md):
#   dsxplore.db   the store: every design of the space with both seeds, latencies, no weights
#   README.md     the findings page (with the ICC and the seed-mean reliability), plus its
#                 accuracy-macs.svg and front.csv
#   table.csv     one row per finished trial (scripts/table-csv.ts)
# About 2.5 hours on 2 cores (the arithmetic is in configs/table-resnet20.md). Resumable: run
# it again after an interruption; finished trials are kept, the rest continues.
#
# First a pilot: 24 random designs with both seeds, in the same store (the grid reuses its
# trainings). When the pilot's reliability of a design's seed mean is below 0.8 the script
# stops before the grid: raise the budget in the config first (and its arithmetic).
#
#   scripts/build-table.sh                 # pilot, then the grid, then the page and table.csv
#   scripts/build-table.sh --skip-pilot    # straight to the grid
#   scripts/build-table.sh --report-only   # rewrite README.md and table.csv from the store
set -uo pipefail
cd "$(dirname "$0")/.."

name=table-resnet20
dir=results/$name
db=$dir/dsxplore.db
pilot=1
report_only=0
for a in "$@"; do
  case "$a" in
    --skip-pilot) pilot=0 ;;
    --report-only) report_only=1 ;;
    *) echo "usage: $0 [--skip-pilot] [--report-only]" >&2; exit 2 ;;
  esac
done
if [ "$report_only" = 0 ] && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "Fashion-MNIST is missing: apt-get install dataset-fashion-mnist" >&2
  exit 1
fi
# bin/dsxplore runs dist/: compile this checkout's TypeScript first
npm run build:ts >/dev/null || exit 1
mkdir -p "$dir"

sweep() { # config file, sweep name
  local resume=()
  bin/dsxplore report --db "$db" --sweep "$2" --json >/dev/null 2>&1 && resume=(--resume)
  echo "$(date -u +%FT%TZ) $2: sweep started${resume:+ (resuming)}"
  bin/dsxplore sweep --config "$1" --db "$db" --device cpu --jobs 2 --threads 1 --json "${resume[@]}" >>"$dir/sweep.log" 2>&1
  local rc=$?
  echo "$(date -u +%FT%TZ) $2: sweep exited $rc (log: $dir/sweep.log)"
  return $rc
}

if [ "$report_only" = 0 ]; then
  if [ "$pilot" = 1 ]; then
    cfg=$dir/pilot.json
    node -e '
      const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      c.name += "-pilot"; c.search = { kind: "random", n: 24, seed: 0 }; c.baselines = false;
      require("fs").writeFileSync(process.argv[2], JSON.stringify(c, null, 2));' "configs/$name.json" "$cfg"
    sweep "$cfg" "$name-pilot" || exit 1
    bin/dsxplore report --db "$db" --sweep "$name-pilot" --format markdown --out "$dir/pilot/README.md" || exit 1
    rel=$(grep -o "reliability of a design's seed mean [0-9.]*" "$dir/pilot/README.md" | grep -o '[0-9.]*$')
    echo "pilot: reliability of a design's seed mean ${rel:-unknown}"
    if [ -z "$rel" ] || ! awk -v r="$rel" 'BEGIN { exit !(r >= 0.8) }'; then
      echo "the pilot's reliability is below 0.8 (see $dir/pilot/README.md): raise dataset.limitTrain or recipe.epochs in configs/$name.json (and redo the arithmetic in configs/$name.md), then run again" >&2
      exit 1
    fi
  fi
  sweep "configs/$name.json" "$name" || exit 1
fi

bin/dsxplore report --db "$db" --sweep "$name" --format markdown --out "$dir/README.md" --notes "configs/$name.md" || exit 1
node --import tsx scripts/table-csv.ts --db "$db" --sweep "$name" >"$dir/table.csv" || exit 1
echo "wrote $dir/README.md, $dir/table.csv; $db is $(du -h "$db" | cut -f1)"
