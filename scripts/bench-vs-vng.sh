#!/usr/bin/env bash
# selftests against virtme-ng (PyPI virtme-ng, the tool a kernel developer
# would pick instead), side by side, A B A B, on the same kernel: a build of
# the default tree with `--config vng`, which both can boot.
#   A = `selftests run --kernel BZIMAGE --filter TEST`, everything cached;
#   B = `vng --run BZIMAGE --exec 'AGENT PLAN PROGS'`: the same guest agent
#       binary, run from the host's filesystem (virtme-ng shares it over 9p
#       or virtiofs), with a one-line plan naming the same test and the BPF
#       objects the run's image holds.
# Both under TCG, single-threaded, with the runner's default --cpus 2 and
# --memory 1024. Prints medians, min and max of each and the ratio B/A
# (median of the per-pair ratios); asserts nothing (speed is measured here,
# never in tests). When virtme-ng cannot boot the kernel or run the agent,
# prints its command line and output and exits 1.
#   scripts/bench-vs-vng.sh [PAIRS]
# SELFTESTS=path/to/selftests skips `swift build`; KERNEL=path/to/bzImage
# (and VMLINUX=its vmlinux) skips `selftests kernel build --config vng`.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs="${1:-5}"
test="${BENCH_TEST:-storage/sk/user_update_flags}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/selftests"
venv="$cache/venv"
if [ ! -x "$venv/bin/vng" ]; then
    echo "bench-vs-vng: no virtme-ng in $venv; run scripts/setup.sh" >&2
    exit 2
fi

if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug --product selftests >/dev/null
    swift build -c debug --product selftests-guest >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
agent="$(dirname "$SELFTESTS")/selftests-guest"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

if [ -z "${KERNEL:-}" ]; then
    # A no-op when the cache holds the build (about 20 minutes otherwise).
    "$SELFTESTS" kernel build --config vng --json "$out/kernel.json" >"$out/kernel.out" 2>&1 || {
        cat "$out/kernel.out" >&2
        exit 1
    }
    built() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$out/kernel.json" "$1"; }
    KERNEL="$(built bzImage)"
    VMLINUX="$(built vmlinux)"
fi
run=("$SELFTESTS" run --kernel "$KERNEL" --filter "$test")
[ -n "${VMLINUX:-}" ] && run+=(--vmlinux "$VMLINUX")

# The warm-up fills every cache; the objects B loads are those of the image
# it booted (the one whose use marker it touched last).
"${run[@]}" >"$out/warmup.out" 2>&1 || true
image="$(ls -t "$cache"/images/.*.cpio.used 2>/dev/null | head -1 || true)"
if [ -z "$image" ]; then
    echo "bench-vs-vng: the warm-up run left no image in $cache/images; its output:" >&2
    tail -20 "$out/warmup.out" >&2
    exit 1
fi
image="${image%.used}"
image="$(dirname "$image")/$(basename "$image" | sed 's/^\.//')"
mkdir -p "$out/guest/progs"
(cd "$out/guest" && cpio -id --quiet 'progs/*' <"$image")
# The test's bound is the agent's default (30 s, the catalog's too).
printf '%s\n' "$test" >"$out/guest/plan"
# What the runner's init does before the agent starts and virtme-ng's init
# does not (it mounts proc, sysfs, devtmpfs, cgroup2, debugfs and tracefs).
guest_command="mount -t bpf bpf /sys/fs/bpf && busybox ip link set lo up"
# The agent's KTAP goes to a file in a directory shared read-write: without
# udev on the host, virtme-ng-init finds no /dev/virtio-ports links, runs the
# command with its output on the serial console, and vng shows that console
# only with --verbose (which would slow B by the whole boot log under TCG).
guest_command+=" && $agent $out/guest/plan $out/guest/progs >$out/guest/ktap 2>&1"
# Debian's QEMU ships the C virtiofsd, which virtme-ng does not use, so the
# root is shared over 9p; virtme-ng 1.42 then passes rootfstype=9p but no
# root=, and the kernel asks 9p for a device named "" ("9pnet_virtio: no
# channels available for device", then no init): root=/dev/root names the
# mount tag virtme-ng gave the share.
vng=("$venv/bin/vng" --run "$KERNEL" --disable-kvm --cpus 2 --memory 1024M
    --append root=/dev/root --rwdir "$out/guest"
    --exec "$guest_command" --qemu-opts=-accel\ tcg,thread=single)

# vng runs virtme-run, which it finds on PATH.
vng_run() { PATH="$venv/bin:$PATH" timeout 300 "${vng[@]}" </dev/null; }

# Its exit status says nothing here: with no virtme.ret port either, vng
# exits 255 whatever the command did; the agent's KTAP is the verdict.
vng_run >"$out/vng.out" 2>&1 || true
if ! grep -qx "ok 1 $test" "$out/guest/ktap" 2>/dev/null; then
    # Once more with the kernel's console shown (vng hides it unless --verbose).
    vng=("${vng[0]}" --verbose "${vng[@]:1}")
    vng_run >"$out/vng.out" 2>&1 && status=0 || status=$?
    echo "bench-vs-vng: virtme-ng did not run $test with the agent; its command:" >&2
    printf ' %q' "${vng[@]}" >&2
    printf '\nexit status %s; the end of its output:\n' "$status" >&2
    tail -40 "$out/vng.out" >&2
    [ -f "$out/guest/ktap" ] && { echo "the agent's output:" >&2; cat "$out/guest/ktap" >&2; }
    exit 1
fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
for i in $(seq 1 "$pairs"); do
    start=$(date +%s.%N)
    "${run[@]}" --json "$out/a-$i.json" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    echo "$start $end" >"$out/a-$i.wall"
    start=$(date +%s.%N)
    rm -f "$out/guest/ktap"
    vng_run >"$out/b-$i.out" 2>&1 || true
    end=$(date +%s.%N)
    echo "$start $end" >"$out/b-$i.wall"
    cat "$out/guest/ktap" >>"$out/b-$i.out" 2>/dev/null || true
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$pairs" "$test" "$KERNEL" <<'PY'
import json, statistics, sys
out, pairs, test, kernel = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def wall(name):
    start, end = map(float, open(f"{out}/{name}.wall").read().split())
    return end - start
a = [wall(f"a-{i}") for i in range(1, pairs + 1)]
b = [wall(f"b-{i}") for i in range(1, pairs + 1)]
ratios = [y / x for x, y in zip(a, b)]
def passed(i):
    try:
        records = json.load(open(f"{out}/a-{i}.json"))["records"]
    except (OSError, ValueError, KeyError):
        return False
    return [(r["name"], r["outcome"]) for r in records] == [(test, "pass")]
# A's verdict is in its JSON report; B's is the agent's KTAP line.
bad = [f"A{i}" for i in range(1, pairs + 1) if not passed(i)]
bad += [f"B{i}" for i in range(1, pairs + 1)
        if f"ok 1 {test}\n" not in open(f"{out}/b-{i}.out").read()]
print(f"{test} on {kernel}: {pairs} pairs (A B A B), TCG single-threaded, 2 vCPUs, 1024 MiB")
print(f"{'':<24} {'median s':>9} {'min s':>8} {'max s':>8}")
for name, v in [("A selftests run", a), ("B vng --exec agent", b), ("ratio B/A (per pair)", ratios)]:
    print(f"{name:<24} {statistics.median(v):9.3f} {min(v):8.3f} {max(v):8.3f}")
print("not pass: " + (", ".join(bad) if bad else "none"))
PY
