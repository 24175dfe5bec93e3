#!/usr/bin/env bash
# Soak: N runs of the default suite on the default kernel, one after the
# other, counting every outcome that is not pass or skip, per test. A test
# that is not always pass/skip on an unchanged kernel is flaky, and a flake
# is fixed, not loosened. Prints one line per test that ever did not pass,
# the exit codes seen, the median wall time of a run, and a closing line
# "N runs, M spurious non-passes". Exits 1 when M > 0.
#   scripts/soak.sh [N]        (default 20)
# SELFTESTS=path/to/selftests skips `swift build`; extra arguments for every
# run go in SOAK_ARGS (e.g. SOAK_ARGS='--filter storage/*').
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-20}"
if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for i in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    status=0
    # Bounded: the suite takes about a minute under TCG; 15 minutes is a hang.
    # shellcheck disable=SC2086
    timeout --kill-after=30 900 "$SELFTESTS" run --no-color --json "$out/run-$i.json" \
        ${SOAK_ARGS:-} >"$out/run-$i.out" 2>&1 || status=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "$status $((ms / 1000)).$(printf %03d $((ms % 1000)))" >"$out/run-$i.status"
    echo "soak: run $i of $runs: exit $status, $((ms / 1000)) s"
done

python3 - "$out" "$runs" <<'PY'
import json, os, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
bad, codes, walls, missing = {}, {}, [], 0
for i in range(1, runs + 1):
    status, wall = open(f"{out}/run-{i}.status").read().split()
    codes[status] = codes.get(status, 0) + 1
    walls.append(float(wall))
    try:
        report = json.load(open(f"{out}/run-{i}.json"))
    except (OSError, ValueError):
        missing += 1
        print(f"run {i}: no report (exit {status}); its output:")
        print("".join(open(f"{out}/run-{i}.out").readlines()[-15:]))
        continue
    for record in report["records"]:
        if record["outcome"] not in ("pass", "skip"):
            bad.setdefault(record["name"], []).append(f"run {i}: {record['outcome']}")
for name, seen in sorted(bad.items()):
    print(f"{name}: {len(seen)} of {runs} not passed ({', '.join(seen)})")
print("exit codes: " + ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())))
print(f"median wall per run: {statistics.median(walls):.1f} s "
      f"(min {min(walls):.1f}, max {max(walls):.1f})")
spurious = sum(len(v) for v in bad.values()) + missing
print(f"{runs} runs, {spurious} spurious non-passes")
sys.exit(1 if spurious else 0)
PY
