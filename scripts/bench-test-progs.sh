#!/usr/bin/env bash
# test_progs benchmark on Debian's 6.12 source and the default kernel, each
# figure the median of 3 (with min and max):
#   1. a clean build of the tree's test_progs (its cache directory removed);
#   2. an incremental build after one prog_tests file is touched;
#   3. the cost of carrying test_progs into the guest: the boot of a
#      one-test run with and without a test_progs test, paired A B A B, and
#      the size of the archive;
#   4. the agreement set (the storage and hash tests of test_progs that
#      mirror ours) run in the guest.
# Asserts nothing about speed.
#   scripts/bench-test-progs.sh [--runs N]
# Uses the default cache (the default kernel and source, as setup leaves
# them); removes and rebuilds the default source's test_progs build. The
# touch in step 2 changes one file's time in the cache's own copy of the
# source, not its content. SELFTESTS=path/to/selftests skips `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
[ "${1:-}" = "--runs" ] && runs="$2"
if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cache="${XDG_CACHE_HOME:-$HOME/.cache}/selftests"
tree="$("$SELFTESTS" kernel source)"
agreement="sk_storage_omem_uncharge,task_local_storage,cgrp_local_storage,test_local_storage,sk_storage_tracing,htab_update,htab_reuse,hashmap,lru_bug"
ours="storage/sk/user_update_flags"

# run NAME ARGS...: one selftests run; its JSON report kept as $out/NAME.json.
run() {
    local name="$1"
    shift
    "$SELFTESTS" run --filter "$ours" --json "$out/$name.json" "$@" >"$out/$name.out" 2>&1 \
        || [ $? -eq 1 ] || { echo "bench-test-progs: $name failed:" >&2; tail -20 "$out/$name.out" >&2; exit 1; }
}
# phase NAME PHASE: seconds of PHASE in run NAME's report.
phase() {
    python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["phases"].get(sys.argv[2], 0))' \
        "$out/$1.json" "$2"
}
# stats VALUES...: median, min and max.
stats() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median %.2f s (min %.2f, max %.2f, n=%d)", m, v[1], v[NR], NR}'
}

# The tree's test_progs build directory, named as TestProgsBuilder names it.
build_dir() {
    python3 -c 'import hashlib,os,sys; p=os.path.realpath(sys.argv[1]); h=hashlib.sha256(("selftests-test-progs-1\n"+p+"\n").encode()).hexdigest()[:12]; print(os.path.join(sys.argv[2], "test-progs", os.path.basename(p)+"-"+h))' "$tree" "$cache"
}

echo "bench-test-progs: tree $tree, $runs runs each"
clean=() incremental=() boot_with=() boot_without=() tests=()
for i in $(seq "$runs"); do
    dir="$(build_dir)"
    [ -d "$dir/out" ] || { echo "bench-test-progs: no test_progs build at $dir" >&2; exit 1; }
    rm -rf "$dir"
    run "clean-$i" --test-progs sk_storage_omem_uncharge
    clean+=("$(phase "clean-$i" test-progs-build)")
    echo "bench-test-progs: clean build $i: ${clean[-1]} s"
done
for i in $(seq "$runs"); do
    touch "$tree/tools/testing/selftests/bpf/prog_tests/sk_storage_omem_uncharge.c"
    run "incremental-$i" --test-progs sk_storage_omem_uncharge
    incremental+=("$(phase "incremental-$i" test-progs-build)")
    echo "bench-test-progs: incremental build $i: ${incremental[-1]} s"
done
for i in $(seq "$runs"); do
    run "without-$i"
    boot_without+=("$(phase "without-$i" boot)")
    run "with-$i" --test-progs sk_storage_omem_uncharge
    boot_with+=("$(phase "with-$i" boot)")
    echo "bench-test-progs: boot without/with test_progs $i: ${boot_without[-1]} / ${boot_with[-1]} s"
done
for i in $(seq "$runs"); do
    run "agreement-$i" --test-progs "$agreement"
    tests+=("$(phase "agreement-$i" tests)")
    echo "bench-test-progs: agreement set $i: ${tests[-1]} s in the guest"
done
payload="$(ls -t "$cache"/images/test-progs-*.cpio | head -1)"

echo
echo "test_progs build, clean:          $(stats "${clean[@]}")"
echo "test_progs build, one file:       $(stats "${incremental[@]}")"
echo "boot without test_progs:          $(stats "${boot_without[@]}")"
echo "boot with test_progs:             $(stats "${boot_with[@]}")"
echo "test_progs archive:               $(du -h "$payload" | cut -f1) ($(basename "$payload"))"
echo "agreement set (9 tests), guest:   $(stats "${tests[@]}")"
