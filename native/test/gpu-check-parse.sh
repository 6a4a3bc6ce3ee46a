#!/usr/bin/env bash
# Reads the output of `cuda_check` (the CUDA op and whole-network checks) and decides whether
# it proves the GPU path: gpu-check.sh runs it on its log, and test/gpu-check-parse.test.ts on
# recorded passing and failing lines, so the parsing is itself tested without a GPU.
# Usage: gpu-check-parse.sh LOG
# Prints `checks=N failed=M net_checks=N net_failed=M` and `verdict: PASS` or
# `verdict: FAIL: <why>`; exits 0 on PASS, 1 on FAIL, 2 on a usage error.
# Count lines look like `<backend>: 120 checks, 0 failed` and `<backend>: 16 network checks,
# 0 failed`; a backend name may itself hold colons (`cuda:0`), so the name is everything up
# to the last `: ` before the count.
set -u
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: gpu-check-parse.sh LOG (a readable file)" >&2; exit 2; }
log="$1"

# last_counts WHAT: "N M" from the last unindented "<name>: N WHAT, M failed" line, or nothing
last_counts() {
  sed -nE "s/^[^[:space:]].*: ([0-9]+) $1, ([0-9]+) failed\$/\\1 \\2/p" "$log" | tail -1
}

ops=$(last_counts checks)
nets=$(last_counts "network checks")
read -r checks failed <<<"${ops:-- -}"
read -r net_checks net_failed <<<"${nets:-- -}"
echo "checks=$checks failed=$failed net_checks=$net_checks net_failed=$net_failed"

verdict() { echo "verdict: $*"; [ "$1" = PASS ]; exit $?; }
skip=$(grep -m1 '^skip:' "$log")
[ -z "$skip" ] || verdict FAIL: "no usable CUDA device ($skip); nothing on the GPU was checked"
[ -n "$ops" ] || verdict FAIL: "cuda_check printed no op check count"
[ "$checks" -gt 0 ] || verdict FAIL: "cuda_check ran 0 op checks"
[ "$failed" -eq 0 ] || verdict FAIL: "$failed of $checks op checks failed"
[ -n "$nets" ] || verdict FAIL: "the whole-network checks did not finish"
[ "$net_checks" -gt 0 ] || verdict FAIL: "cuda_check ran 0 network checks"
[ "$net_failed" -eq 0 ] || verdict FAIL: "$net_failed of $net_checks network checks failed"
verdict PASS
