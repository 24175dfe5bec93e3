#!/usr/bin/env bash
# The runner's fault behaviour at a glance: every fault and bad input of
# issue 12 plus the fixtures, each run bounded, one line per scenario:
#   scenario  expected  observed  exit  seconds  left-behind
# "left-behind" lists any process the runner started that outlived it (by
# the PIDs sampled while it ran) and any scratch it left in the cache. A
# closing line says "N passed, M failed"; the script exits 1 if any failed.
#   scripts/fault-matrix.sh [NAME-GLOB]      (e.g. 'kernel-*')
# Uses the default cache (the default kernel setup installed) and, for the
# cache scenarios, small tmpfs mounts (root only; they are skipped with a
# note otherwise). SELFTESTS=path/to/selftests skips `swift build`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SELFTESTS:-}" ]; then
    swift build -c debug >/dev/null
    SELFTESTS="$(swift build --show-bin-path)/selftests"
fi
export SELFTESTS
exec python3 - "${1:-*}" <<'PY'
import fnmatch, json, os, shutil, signal, subprocess, sys, tempfile, time

BIN = os.environ["SELFTESTS"]
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "selftests")
PATTERN = sys.argv[1]
WORK = tempfile.mkdtemp(prefix="fault-matrix-")


def default_kernel():
    for root, _, files in os.walk(os.path.join(CACHE, "kernels")):
        for name in files:
            if name.startswith("vmlinuz-"):
                return os.path.join(root, name)
    sys.exit("fault-matrix: no default kernel in the cache; run scripts/setup.sh")


KERNEL = default_kernel()


def proc_table():
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), fields[19])
    return table


def descendants(root, table):
    found, parents = {}, {root}
    while True:
        new = {p: t for p, t in table.items() if t[0] in parents and p not in found}
        if not new:
            return found
        found.update(new)
        parents |= set(new)


def still_running(recorded):
    table = proc_table()
    left = []
    for pid, (_, start) in recorded.items():
        if pid in table and table[pid][1] == start:
            try:
                cmd = open(f"/proc/{pid}/cmdline").read().replace("\0", " ").strip()
            except OSError:
                cmd = "?"
            left.append(f"{pid} {cmd[:60]}")
    return left


def scratch_left(cache, pid):
    left = []
    tmp = os.path.join(cache, "tmp")
    if os.path.isdir(tmp):
        left += [f"tmp/{n}" for n in os.listdir(tmp) if f"-{pid}-" in n]
    for root, _, files in os.walk(cache):
        if "/src" in root or "/worktrees" in root or "/kbuild" in root:
            continue
        left += [os.path.relpath(os.path.join(root, n), cache)
                 for n in files if n.startswith(f".tmp-{pid}-")]
    return left


def run(args=(), *, shell=None, signal_on=None, timeout=600, cache=CACHE):
    """Runs the runner (or a shell line around it), sampling its process
    tree; `signal_on` = (sig, predicate on the tree and the output so far)."""
    out = os.path.join(WORK, "out")
    err = os.path.join(WORK, "err")
    argv = ["/bin/bash", "-c", shell] if shell else [BIN] + list(args)
    started = time.monotonic()
    with open(out, "w") as o, open(err, "w") as e:
        child = subprocess.Popen(argv, stdout=o, stderr=e, start_new_session=True)
    recorded, sent = {}, False
    while child.poll() is None:
        table = proc_table()
        recorded.update(descendants(child.pid, table))
        if signal_on and not sent:
            sig, ready = signal_on
            if ready(recorded, open(out).read()):
                child.send_signal(sig)
                sent = True
        if time.monotonic() - started > timeout:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    # What a runner's guard takes down, it takes down within seconds.
    deadline = time.monotonic() + 15
    left = still_running(recorded)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = still_running(recorded)
    left += scratch_left(cache, child.pid)
    return child.returncode, seconds, open(out).read(), open(err).read(), left


def qemu_running(tree, _):
    return any(b"qemu-system" in open(f"/proc/{p}/cmdline", "rb").read()
               for p in tree if os.path.exists(f"/proc/{p}/cmdline"))


def outcomes(path):
    try:
        return {r["name"]: r["outcome"] for r in json.load(open(path))["records"]}
    except (OSError, ValueError, KeyError):
        return {}


results = []


def scenario(name, expected, check, **kwargs):
    if not fnmatch.fnmatch(name, PATTERN):
        return
    code, seconds, out, err, left = run(**kwargs)
    ok, observed = check(code, out, err)
    ok = ok and not left
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name:<24} expected: {expected:<38} observed: "
          f"{observed:<44} exit {code:<4} {seconds:6.1f} s  left: {', '.join(left) or 'none'}",
          flush=True)
    if not ok:
        print("     stderr: " + " | ".join(err.strip().splitlines()[-4:]))


def refused(input_text):
    """Exit 2 before anything runs, the input named on its own line."""
    def check(code, out, err):
        named = f"input: {input_text}" in err
        return code == 2 and named, ("exit 2, input named" if named else
                                     f"input not named: {err.strip().splitlines()[:1]}")
    return check


def exits(codes, said=None, what=None):
    def check(code, out, err):
        ok = code in codes and (said is None or said in err or said in out)
        return ok, what or (f"said '{said}'" if said and ok else f"exit {code}")
    return check


def any_outcome(path, wanted):
    def check(code, out, err):
        got = sorted(set(outcomes(path).values()))
        return code == 1 and wanted in got, "outcomes: " + ", ".join(got)
    return check


def report_has(path, wanted, code_expected):
    def check(code, out, err):
        got = outcomes(path)
        missing = {k: v for k, v in wanted.items() if got.get(k) != v}
        observed = ", ".join(f"{k}={got.get(k)}" for k in wanted) if wanted else "?"
        return code == code_expected and not missing and bool(got), observed[:44]
    return check


json_out = os.path.join(WORK, "report.json")
junit_out = os.path.join(WORK, "report.xml")

# 1. Whatever ends the runner, its children end with it.
for sig, code in [(signal.SIGKILL, -9), (signal.SIGHUP, 130), (signal.SIGTERM, 130)]:
    scenario(f"signal-{sig.name.lower()}", f"exit {code}, no child left",
             exits({code}), args=["run", "--filter", "fixture/hang_guest"],
             signal_on=(sig, qemu_running))
scenario("pipe-closed", "exit 130, no child left", exits({130}, "its output was closed"),
         shell=f"'{BIN}' run --filter 'fixture/pass,fixture/hang_guest' | head -1; "
               "exit ${PIPESTATUS[0]}")
# 12. Ctrl-C writes the reports of what finished.
scenario("sigint-partial-report", "130, pass kept, the rest not-run",
         report_has(json_out, {"fixture/pass": "pass", "fixture/hang_guest": "not-run"}, 130),
         args=["run", "--filter", "fixture/pass,fixture/hang_guest", "--json", json_out,
               "--junit", junit_out],
         signal_on=(signal.SIGINT, lambda tree, out: "fixture/pass" in out))
# 2. Report paths.
scenario("junit-dir-missing", "exit 2 before the run", refused(f"--junit {WORK}/ci/j.xml"),
         args=["run", "--junit", f"{WORK}/ci/j.xml"])
# 3. --vmlinux.
scenario("vmlinux-without-kernel", "exit 2 naming --vmlinux", refused("--vmlinux /bin/ls"),
         args=["run", "--vmlinux", "/bin/ls"])
scenario("vmlinux-not-elf-btf", "exit 2 naming --vmlinux", refused("--vmlinux /bin/ls"),
         args=["run", "--kernel", KERNEL, "--vmlinux", "/bin/ls"])
# 4. A KVM that cannot run the guest.
scenario("accel-kvm-broken", "exit 2 in seconds naming --accel", refused("--accel kvm"),
         args=["run", "--accel", "kvm", "--filter", "fixture/pass"], timeout=60)
# 5. Out of memory.
scenario("guest-oom", "exit 1, an out-of-memory verdict", any_outcome(json_out, "out-of-memory"),
         args=["run", "--memory", "256", "--filter", "memory/large/*", "--json", json_out],
         timeout=900)
# 6. The run's bound.
scenario("run-timeout", "exit 1, the rest not-run", any_outcome(json_out, "not-run"),
         # The default suite takes about 22 s on two guests (37 s on one):
         # a 15 s bound leaves some of it not run whatever --jobs decides.
         args=["run", "--run-timeout", "15", "--json", json_out],
         timeout=120)
# 7. The cache directory.
scenario("cache-under-a-file", "exit 2 naming --cache-dir",
         refused("--cache-dir /etc/hostname/cache"),
         args=["run", "--cache-dir", "/etc/hostname/cache"])
if os.geteuid() == 0:
    ro, full = os.path.join(WORK, "ro"), os.path.join(WORK, "full")
    os.makedirs(ro)
    os.makedirs(full)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "none", ro], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "none", full], check=True)
    try:
        scenario("cache-read-only", "exit 2 naming --cache-dir", refused(f"--cache-dir {ro}"),
                 args=["run", "--cache-dir", ro, "--kernel", KERNEL], cache=ro)
        scenario("cache-full", "exit 2/3 saying it is full", exits({2, 3}, "full"),
                 args=["run", "--cache-dir", full, "--kernel", KERNEL], cache=full)
    finally:
        subprocess.run(["umount", ro])
        subprocess.run(["umount", full])
else:
    print("note: cache-read-only and cache-full need root for their tmpfs mounts")
# 8. Bad kernels.
empty = os.path.join(WORK, "empty")
open(empty, "w").close()
truncated = os.path.join(WORK, "truncated")
with open(KERNEL, "rb") as source, open(truncated, "wb") as cut:
    cut.write(source.read(os.path.getsize(KERNEL) // 3))
for name, path in [("dir", "/tmp"), ("empty", empty), ("truncated", truncated)]:
    scenario(f"kernel-{name}", "exit 2 naming --kernel", refused(f"--kernel {path}"),
             args=["run", "--kernel", path])
# 9. Filter holes.
for name, text in [("one-glob-unmatched", "storage/*,hahs/*"), ("empty", ""), ("commas", ",,,")]:
    scenario(f"filter-{name}", "exit 2 naming --filter", refused(f"--filter '{text}'"),
             args=["run", "--filter", text])
# 10. Values QEMU would reject.
scenario("cpus-too-many", "exit 2 with the limit", refused("--cpus 1000"),
         args=["run", "--cpus", "1000"])
scenario("memory-too-much", "exit 2 with the limit", refused("--memory 1000000"),
         args=["run", "--memory", "1000000"])
# 11. A damaged cache entry is rebuilt.
damaged = os.path.join(WORK, "damaged-cache")
os.makedirs(damaged)
for part in ["kernels", "btf", "progs", "kvm-probe", "digests.json"]:
    source = os.path.join(CACHE, part)
    if os.path.isdir(source):
        shutil.copytree(source, os.path.join(damaged, part), symlinks=True)
    elif os.path.exists(source):
        shutil.copy(source, os.path.join(damaged, part))
for root, _, files in os.walk(os.path.join(damaged, "btf")):
    for name in files:
        if name == "vmlinux.h":
            open(os.path.join(root, name), "w").close()
scenario("cache-entry-damaged", "exit 0, the entry rebuilt", exits({0}, "rebuilding"),
         args=["run", "--cache-dir", damaged, "--kernel", KERNEL, "--filter",
               "storage/sk/user_update_flags"], cache=damaged)
# The fixtures: every outcome the runner knows.
fixtures = {"fixture/pass": "pass", "fixture/fail": "fail", "fixture/skip": "skip",
            "fixture/hang": "timeout", "fixture/hang_guest": "timeout",
            "fixture/warn": "splat", "fixture/crash": "kernel-crash",
            "fixture/build_error": "build-error"}
for name, outcome in fixtures.items():
    scenario(name, outcome, report_has(json_out, {name: outcome}, 0 if outcome in
                                       ("pass", "skip") else 1),
             args=["run", "--filter", name, "--json", json_out])

shutil.rmtree(WORK, ignore_errors=True)
failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
