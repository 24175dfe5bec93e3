#!/usr/bin/env bash
# Median of N warm runs of `selftests run`, split by phase, and beside them
# the boot floor (scripts/floor.sh: the same QEMU line and kernel with a 2 MB
# busybox initramfs that resets at once), one floor boot before each run, and
# the ratio wall/floor (median of the per-pair ratios), so a change that
# costs boot time shows. Prints the figures; asserts nothing (speed is
# measured here, never in tests).
#   scripts/bench-run.sh [N] [-- extra run arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/floor.sh
runs="${1:-5}"
shift || true
[ "${1:-}" = "--" ] && shift

swift build -c debug --product selftests >/dev/null
bin="$(swift build --show-bin-path)/selftests"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/selftests"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

floor_build "$out"
"$bin" run --json "$out/warmup.json" "$@" >/dev/null 2>&1 || true   # fills every cache
floor_argv "$(floor_latest_argv "$cache")" "$out/floor.cpio" "$out" > "$out/floor.argv"
for i in $(seq 1 "$runs"); do
    floor_boot "$out/floor.argv" > "$out/floor-$i"
    start=$(date +%s.%N)
    "$bin" run --json "$out/run-$i.json" "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    echo "$start $end" > "$out/wall-$i"
done

python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
phases = ["compile", "image", "probe", "boot", "tests", "teardown"]
rows = {p: [] for p in phases + ["wall", "overhead", "floor", "wall/floor"]}
accel = tests = None
for i in range(1, runs + 1):
    report = json.load(open(f"{out}/run-{i}.json"))
    start, end = map(float, open(f"{out}/wall-{i}").read().split())
    wall = end - start
    for p in phases:
        rows[p].append(report["phases"].get(p, 0.0))
    rows["wall"].append(wall)
    rows["overhead"].append(wall - report["phases"].get("boot", 0) - report["phases"].get("tests", 0))
    floor = float(open(f"{out}/floor-{i}").read())
    rows["floor"].append(floor)
    rows["wall/floor"].append(wall / floor)
    accel, tests = report["accelerator"], len(report["records"])
print(f"selftests run: {runs} warm runs, {tests} tests, accelerator {accel}")
print(f"{'phase':<10} {'median s':>9} {'min s':>8} {'max s':>8}")
for name, values in rows.items():
    print(f"{name:<10} {statistics.median(values):9.3f} {min(values):8.3f} {max(values):8.3f}")
print("overhead = wall - boot - tests: everything the runner itself adds")
print("floor = the same QEMU line and kernel booting a busybox init that resets at once")
PY
