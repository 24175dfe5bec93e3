#!/usr/bin/env bash
# The default suite warm with one guest (--jobs 1) against --jobs 0 (as many
# guests as the host's cores keep busy), side by
# side, A B A B, so that both see the same load. Prints the medians, min,
# max and the ratio; asserts nothing (speed is measured here, never in tests).
#   scripts/bench-jobs.sh [PAIRS] [-- extra run arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-5}"
shift || true
[ "${1:-}" = "--" ] && shift

swift build -c debug --product selftests >/dev/null
bin="$(swift build --show-bin-path)/selftests"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
"$bin" run --json "$out/warmup.json" "$@" >/dev/null 2>&1 || true   # fills every cache
for i in $(seq 1 "$pairs"); do
    for side in one default; do
        jobs=()
        if [ "$side" = one ]; then jobs=(--jobs 1); else jobs=(--jobs 0); fi
        start=$(date +%s.%N)
        "$bin" run "${jobs[@]}" --json "$out/$side-$i.json" "$@" >/dev/null 2>"$out/$side-$i.err" || true
        end=$(date +%s.%N)
        echo "$start $end" > "$out/$side-$i.wall"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$pairs" <<'PY'
import json, re, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
walls, tests, guests, bad = {}, {}, {}, []
for side in ("one", "default"):
    walls[side], tests[side] = [], []
    for i in range(1, pairs + 1):
        start, end = map(float, open(f"{out}/{side}-{i}.wall").read().split())
        walls[side].append(end - start)
        report = json.load(open(f"{out}/{side}-{i}.json"))
        tests[side].append(report["phases"].get("tests", 0.0))
        bad += [f"{side}-{i} {r['name']} {r['outcome']}" for r in report["records"]
                if r["outcome"] != "pass"]
        note = re.search(r"on (\d+) guests at once", open(f"{out}/{side}-{i}.err").read())
        guests[side] = int(note.group(1)) if note else 1
print(f"default suite, warm, {pairs} pairs A B A B")
print(f"{'':<22} {'median s':>9} {'min s':>8} {'max s':>8}")
for side, label in (("one", "--jobs 1"), ("default", f"--jobs 0 ({guests['default']} guests)")):
    w = walls[side]
    print(f"{label + ' wall':<22} {statistics.median(w):9.2f} {min(w):8.2f} {max(w):8.2f}")
    t = tests[side]
    print(f"{label + ' tests':<22} {statistics.median(t):9.2f} {min(t):8.2f} {max(t):8.2f}")
ratios = [d / o for o, d in zip(walls["one"], walls["default"])]
print(f"ratio --jobs 0 / --jobs 1: median {statistics.median(walls['default']) / statistics.median(walls['one']):.2f}"
      f" (per pair: min {min(ratios):.2f}, max {max(ratios):.2f})")
print("not pass: " + (", ".join(bad) if bad else "none"))
PY
