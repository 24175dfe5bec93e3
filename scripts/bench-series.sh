#!/usr/bin/env bash
# Series benchmark on Debian's 6.12 source: a 4-patch series (documentation;
# a real break of socket-storage uncharging; selftests only; a message text),
# run through `selftests series`, then the same four commits by hand (checkout,
# then `selftests run --tree`, which builds incrementally and runs the same
# filter), side by side in one run; then `selftests bisect` over the same
# commits. Prints per step the time to apply, build, boot and test, the
# series' own overhead (everything but build, boot and tests), and the bisect's
# builds against ⌈log2 N⌉ + 1. Asserts nothing about speed.
#   scripts/bench-series.sh [--filter TESTS]
# Uses the default cache (the tree's worktree and its warm build, as CI leaves
# them). SELFTESTS=path/to/selftests skips `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."

filter="storage/sk/omem_charge_delete,storage/sk/user_update_flags"
[ "${1:-}" = "--filter" ] && filter="$2"
if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug --product selftests >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
tree="$("$SELFTESTS" kernel source)"

# The series: commits in the source repository's object store, made through
# a scratch index, so its checkout and branches stay as they are.
export GIT_AUTHOR_NAME="Ada Dev" GIT_AUTHOR_EMAIL=ada@example.org
export GIT_COMMITTER_NAME="Ada Dev" GIT_COMMITTER_EMAIL=ada@example.org
export GIT_AUTHOR_DATE="@1700000000 +0000" GIT_COMMITTER_DATE="@1700000000 +0000"
base="$(git -C "$tree" rev-parse HEAD)"
commits=("$base")
edit() {  # edit FILE SED-SCRIPT MESSAGE: one commit on top of the last
    local parent="${commits[-1]}" blob treeid
    blob="$(git -C "$tree" show "$parent:$1" | sed "$2" | git -C "$tree" hash-object -w --stdin)"
    GIT_INDEX_FILE="$out/index" git -C "$tree" update-index --cacheinfo "100644,$blob,$1"
    treeid="$(GIT_INDEX_FILE="$out/index" git -C "$tree" write-tree)"
    commits+=("$(git -C "$tree" commit-tree "$treeid" -p "$parent" -m "$3")")
}
GIT_INDEX_FILE="$out/index" git -C "$tree" read-tree "$base"
edit Documentation/bpf/map_hash.rst '$a\\nThe element count bounds entries, not memory.' \
    "Documentation/bpf: say what a hash map's size promises"
edit net/core/bpf_sk_storage.c \
    's/^\tatomic_sub(size, &sk->sk_omem_alloc);$/\tif (size > PAGE_SIZE)\n\t\tatomic_sub(size, \&sk->sk_omem_alloc);/' \
    "bpf: skip the uncharge of small socket storage"
edit tools/testing/selftests/bpf/README.rst '$a\\nThe local storage tests live in prog_tests/.' \
    "selftests/bpf: mention the storage tests"
edit kernel/bpf/core.c 's/unknown opcode %02x (imm: 0x%x)\\n/unknown opcode %02x (imm: 0x%x), refused\\n/' \
    "bpf: say that the interpreter refuses an unknown opcode"
git -C "$tree" format-patch -q --cover-letter --base="$base" -o "$out/patches" "$base..${commits[4]}"
cat "$out"/patches/*.patch >"$out/series.mbox"
worktree="$(python3 -c 'import hashlib,os,sys; p=os.path.realpath(sys.argv[1]); print(os.path.join(sys.argv[2], "worktrees", os.path.basename(p) + "-" + hashlib.sha256(p.encode()).hexdigest()[:12]))' "$tree" "${XDG_CACHE_HOME:-$HOME/.cache}/selftests")"

echo "bench-series: tree $tree, filter $filter"
echo "bench-series: 1/3 selftests series (4 patches)"
start=$(date +%s.%N)
"$SELFTESTS" series --tree "$tree" --mbox "$out/series.mbox" --filter "$filter" \
    --json "$out/series.json" >"$out/series.out" 2>"$out/series.err" || [ $? -eq 1 ] \
    || { echo "bench-series: the series failed:" >&2; tail -20 "$out/series.err" >&2; exit 1; }
series_wall=$(echo "$(date +%s.%N) - $start" | bc)

echo "bench-series: 2/3 by hand: checkout, then selftests run --tree, per commit"
for k in 0 1 2 3 4; do
    git -C "$worktree" checkout -q --force --detach "${commits[$k]}"
    start=$(date +%s.%N)
    "$SELFTESTS" run --tree "$worktree" --filter "$filter" --json "$out/run-$k.json" \
        >"$out/run-$k.out" 2>"$out/run-$k.err" || true
    echo "$(date +%s.%N) - $start" | bc >"$out/run-$k.wall"
done

echo "bench-series: 3/3 selftests bisect (good: base, bad: patch 4)"
start=$(date +%s.%N)
"$SELFTESTS" bisect --tree "$tree" --good "$base" --bad "${commits[4]}" \
    --filter storage/sk/omem_charge_delete --json "$out/bisect.json" \
    >"$out/bisect.out" 2>"$out/bisect.err" \
    || { echo "bench-series: the bisect failed:" >&2; tail -20 "$out/bisect.err" >&2; exit 1; }
bisect_wall=$(echo "$(date +%s.%N) - $start" | bc)

python3 - "$out" "$series_wall" "$bisect_wall" <<'EOF'
import json, sys
out, series_wall, bisect_wall = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
series = json.load(open(f"{out}/series.json"))

def vm(run):
    """Boot and test seconds of one run (its own phases)."""
    return sum(run.get("phases", {}).get(p, 0) for p in ("boot", "tests", "teardown"))

print()
print("per step (seconds)   apply  checkout  build  boot+tests  overhead  total   | by hand: build  boot+tests  total")
overheads, same = [], []
for step in series["steps"]:
    s = step["seconds"]
    runs = ([step["run"]] if step.get("run") and step.get("carried_from") is None else []) + \
        (step.get("retry_runs", []) if step.get("carried_from") is None else [])
    machine = sum(vm(r) for r in runs)
    total = s.get("total", 0) + s.get("apply", 0)
    overhead = total - s.get("build", 0) - machine
    overheads.append(overhead)
    if step.get("carried_from") is not None:
        same.append(total)
    hand = json.load(open(f"{out}/run-{step['position']}.json"))
    hand_wall = float(open(f"{out}/run-{step['position']}.wall").read())
    hand_build = hand.get("phases", {}).get("kernel-build", 0)
    note = f"  (= step {step['carried_from']})" if step.get("carried_from") is not None else ""
    retries = f"  +{len(step.get('retry_runs', []))} re-runs" if step.get("retry_runs") and step.get("carried_from") is None else ""
    print(f"  {step['position']}/{series['total']}  {s.get('apply', 0):16.2f}  {s.get('checkout', 0):8.2f}  "
          f"{s.get('build', 0):5.1f}  {machine:10.1f}  {overhead:8.2f}  {total:6.1f}   |"
          f"        {hand_build:6.1f}  {vm(hand):10.1f}  {hand_wall:5.1f}{note}{retries}")
overheads.sort()
median = overheads[len(overheads) // 2]
print()
print(f"series wall {series_wall:.1f} s; overhead per step: median {median:.2f} s, max {max(overheads):.2f} s (target <= 2 s)")
if same:
    print(f"identical-kernel steps: {', '.join(f'{t:.1f} s' for t in same)} (target <= 5 s)")
print(f"regressions: {[ (r['test'], r['first_bad']['position']) for r in series['regressions'] ]}")
bisect = json.load(open(f"{out}/bisect.json"))
print(f"bisect: {bisect['commits']} commits, first bad {bisect['culprit']['commit'][:12] if bisect.get('culprit') else None}; "
      f"{bisect['builds']} bisect builds (bound ceil(log2 N) + 1 = {bisect['bound']}) "
      f"+ 2 endpoint checks; wall {bisect_wall:.1f} s")
EOF
