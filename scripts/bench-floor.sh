#!/usr/bin/env bash
# Boot overhead: a warm one-test run against the boot floor, side by side,
# A B A B. A = the runner's own QEMU line (recorded by a warm-up run) booting
# the same kernel with a ~2 MB busybox initramfs whose init resets at once;
# B = `selftests run --filter TEST`, everything cached. Prints medians, min
# and max of each and the ratio B/A (median of the per-pair ratios); asserts
# nothing (speed is measured here, never in tests). When the runner boots
# the kernel's vmlinux through its PVH entry, a third column C boots the
# same floor from the kernel's image (bzImage), the floor as the speed
# issue first measured it, and B/C is printed beside B/A.
#   scripts/bench-floor.sh [PAIRS] [-- extra run arguments]
# SELFTESTS=path/to/selftests skips `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/floor.sh
pairs="${1:-5}"
shift || true
[ "${1:-}" = "--" ] && shift
test="${BENCH_TEST:-storage/sk/user_update_flags}"

if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug --product selftests >/dev/null
    swift build -c debug --product selftests-guest >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/selftests"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

floor_build "$out"
# The warm-up fills every cache and records the QEMU line the runner uses.
"$SELFTESTS" run --filter "$test" --json "$out/warmup.json" "$@" >/dev/null 2>&1 || true
floor_argv "$(floor_latest_argv "$cache")" "$out/floor.cpio" "$out" > "$out/floor.argv"
# The same line with -kernel the image, when the run booted a PVH vmlinux.
python3 - "$out/floor.argv" "$out/warmup.json" "$out/floor-image.argv" <<'PY'
import json, sys
argv = open(sys.argv[1], "rb").read().split(b"\0")[:-1]
image = json.load(open(sys.argv[2]))["kernel"].encode()
k = argv.index(b"-kernel")
if argv[k + 1] != image:
    argv[k + 1] = image
    open(sys.argv[3], "wb").write(b"".join(a + b"\0" for a in argv))
PY
# The image the run booted: the one whose use marker it touched last.
image="$(ls -t "$cache"/images/.*.cpio.used 2>/dev/null | head -1 || true)"
image="${image%.used}"
[ -n "$image" ] && image="$(dirname "$image")/$(basename "$image" | sed 's/^\.//')"

for i in $(seq 1 "$pairs"); do
    floor_boot "$out/floor.argv" >> "$out/a"
    if [ -f "$out/floor-image.argv" ]; then floor_boot "$out/floor-image.argv" >> "$out/c"; fi
    start=$(date +%s.%N)
    "$SELFTESTS" run --filter "$test" "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')" >> "$out/b"
done

python3 - "$out" "$image" <<'PY'
import os, statistics, sys
out, image = sys.argv[1], sys.argv[2]
a = [float(x) for x in open(f"{out}/a")]
b = [float(x) for x in open(f"{out}/b")]
ratios = [y / x for x, y in zip(a, b)]
rows = [("A floor", a), ("B run", b), ("ratio B/A (per pair)", ratios)]
if os.path.exists(f"{out}/c"):
    c = [float(x) for x in open(f"{out}/c")]
    rows[1:1] = [("C floor, bzImage", c)]
    rows.append(("ratio B/C (per pair)", [y / x for x, y in zip(c, b)]))
floor = os.path.getsize(f"{out}/floor.cpio")
print(f"boot floor vs warm one-test run: {len(a)} pairs (A B A B)"
      + ("; A boots the PVH vmlinux, C the image" if len(rows) > 3 else ""))
print(f"{'':<22} {'median s':>9} {'min s':>8} {'max s':>8}")
for name, v in rows:
    print(f"{name:<22} {statistics.median(v):9.3f} {min(v):8.3f} {max(v):8.3f}")
print(f"floor initramfs {floor / 1e6:.1f} MB", end="")
if image:
    print(f"; the run's image {os.path.getsize(image) / 1e6:.1f} MB ({os.path.basename(image)})")
else:
    print()
PY
