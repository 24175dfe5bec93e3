#!/usr/bin/env bash
# Kernel build benchmark on Debian's 6.12 source with the bpf-minimal config:
# a clean build (empty build directory, empty ccache), an incremental build
# after touching kernel/bpf/bpf_local_storage.c, a no-op build, and the ratio
# incremental/clean; then one storage test on the kernel built with
# `run --tree`. Prints the figures; asserts nothing about speed. (CI builds
# the same kernel once, in Tests/IntegrationTests/KernelBuildTests.swift.)
#   scripts/bench-kernel.sh [--cache-dir DIR] [--tree DIR] [--jobs N] [-- build args]
# --cache-dir: where to build (default: a new temporary directory, removed at
#   the end); a directory that already holds builds or a ccache does not give
#   a clean figure, and the script says so.
# SELFTESTS=path/to/selftests skips `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="" tree="" jobs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --cache-dir) cache="$2"; shift 2 ;;
        --tree) tree="$2"; shift 2 ;;
        --jobs) jobs=(--jobs "$2"); shift 2 ;;
        --) shift; break ;;
        *) echo "bench-kernel: unknown argument $1" >&2; exit 2 ;;
    esac
done
extra=("$@")

if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug --product selftests >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
out="$(mktemp -d)"
remove_cache=no
if [ -z "$cache" ]; then
    cache="$(mktemp -d "${TMPDIR:-/tmp}/selftests-bench-kernel.XXXXXX")"
    remove_cache=yes
fi
trap 'rm -rf "$out"; [ "$remove_cache" = yes ] && rm -rf "$cache"' EXIT
if [ -n "$(ls -A "$cache/kbuild" "$cache/ccache" 2>/dev/null)" ]; then
    echo "bench-kernel: warning: $cache already holds builds or a ccache; 'clean' is not clean" >&2
fi
# The tree is only read (and one file touched): the user's unpacked copy will do.
[ -n "$tree" ] || tree="$("$SELFTESTS" kernel source)"

build() {  # build NAME: one timed build, its JSON record in $out/NAME.json
    local start end
    start=$(date +%s.%N)
    "$SELFTESTS" kernel build --tree "$tree" --cache-dir "$cache" ${jobs[@]+"${jobs[@]}"} \
        --json "$out/$1.json" ${extra[@]+"${extra[@]}"} >"$out/$1.out" 2>"$out/$1.err" \
        || { echo "bench-kernel: the $1 build failed:" >&2; tail -20 "$out/$1.err" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$start $end" >"$out/$1.wall"
}

echo "bench-kernel: tree $tree, cache $cache, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
build clean
touch "$tree/kernel/bpf/bpf_local_storage.c"
build incremental
build noop
test_name="storage/sk/omem_charge_delete"
run_status=0
"$SELFTESTS" run --tree "$tree" --cache-dir "$cache" --filter "$test_name" \
    --json "$out/run.json" >"$out/run.out" 2>"$out/run.err" || run_status=$?

python3 - "$out" "$test_name" "$run_status" <<'PY'
import json, sys
out, test_name, run_status = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = {}
for name in ["clean", "incremental", "noop"]:
    start, end = map(float, open(f"{out}/{name}.wall").read().split())
    record = json.load(open(f"{out}/{name}.json"))
    rows[name] = (end - start, record["seconds"], record["cpuSeconds"], record["steps"])
    release = record.get("release")
def fmt(s):
    return f"{s:7.1f}s" if s < 60 else f"{int(s // 60):4d}m{int(round(s % 60)):02d}s"
print(f"kernel {release}, config bpf-minimal")
print(f"{'build':<12} {'wall':>9} {'make':>9} {'cpu':>9} {'steps':>6}")
for name, (wall, make, cpu, steps) in rows.items():
    print(f"{name:<12} {fmt(wall):>9} {fmt(make):>9} {fmt(cpu):>9} {steps:>6}")
print(f"incremental/clean: {rows['incremental'][0] / rows['clean'][0]:.3f}")
print("targets on 2 cores: clean <= 15m, incremental <= 2m, no-op <= 20s")
load = " ".join(open("/proc/loadavg").read().split()[:3])
print(f"load average now: {load}; cpu/2 is the wall time 2 idle cores would need at best")
try:
    run = json.load(open(f"{out}/run.json"))
    outcomes = ", ".join(f"{r['name']} {r['outcome']}" for r in run["records"])
    print(f"run --tree: {outcomes} on {run['accelerator']} (exit {run_status})")
except (OSError, ValueError, KeyError):
    print(f"run --tree: no report (exit {run_status}); see below")
    print(open(f"{out}/run.err").read()[-2000:])
PY
exit "$run_status"
