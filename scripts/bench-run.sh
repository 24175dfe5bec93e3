#!/usr/bin/env bash
# Median of N warm runs of `selftests run`, split by phase. Prints the figures;
# asserts nothing (speed is measured here, never in tests).
#   scripts/bench-run.sh [N] [-- extra run arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
shift || true
[ "${1:-}" = "--" ] && shift

swift build -c debug --product selftests >/dev/null
bin="$(swift build --show-bin-path)/selftests"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

"$bin" run --json "$out/warmup.json" "$@" >/dev/null 2>&1 || true   # fills every cache
for i in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    "$bin" run --json "$out/run-$i.json" "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    echo "$start $end" > "$out/wall-$i"
done

python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
phases = ["compile", "image", "probe", "boot", "tests", "teardown"]
rows = {p: [] for p in phases + ["wall", "overhead"]}
accel = tests = None
for i in range(1, runs + 1):
    report = json.load(open(f"{out}/run-{i}.json"))
    start, end = map(float, open(f"{out}/wall-{i}").read().split())
    wall = end - start
    for p in phases:
        rows[p].append(report["phases"].get(p, 0.0))
    rows["wall"].append(wall)
    rows["overhead"].append(wall - report["phases"].get("boot", 0) - report["phases"].get("tests", 0))
    accel, tests = report["accelerator"], len(report["records"])
print(f"selftests run: {runs} warm runs, {tests} tests, accelerator {accel}")
print(f"{'phase':<10} {'median s':>9} {'min s':>8} {'max s':>8}")
for name, values in rows.items():
    print(f"{name:<10} {statistics.median(values):9.3f} {min(values):8.3f} {max(values):8.3f}")
print("overhead = wall - boot - tests: everything the runner itself adds")
PY
