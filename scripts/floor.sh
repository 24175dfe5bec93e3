# The boot floor, sourced by bench-floor.sh and bench-run.sh: the runner's own
# QEMU command line booting the same kernel with a ~2 MB busybox initramfs
# whose /init resets the VM at once. A warm run can be no faster than that.

# floor_build DIR: writes DIR/floor.cpio (busybox-static + an init that resets).
floor_build() {
    local dir="$1" root="$1/floor-root"
    local busybox="${BUSYBOX:-/bin/busybox}"
    if ! "$busybox" --list 2>/dev/null | grep -qx reboot; then
        echo "floor: $busybox is not a static busybox with reboot; install busybox-static (scripts/setup.sh)" >&2
        return 1
    fi
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/dev"
    cp "$busybox" "$root/bin/busybox"
    # -f: no init system to ask; a reset, which -no-reboot turns into QEMU's exit.
    printf '#!/bin/busybox sh\n/bin/busybox reboot -f\n' > "$root/init"
    chmod 755 "$root/init"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$dir/floor.cpio"
    # /dev/console as the runner's image has it (cpio cannot add a device
    # without root): an extra archive the kernel unpacks after the first.
    python3 - "$dir/floor.cpio" <<'PY'
import sys
def entry(name, mode, rdevmajor=0, rdevminor=0, data=b""):
    name_b = name.encode() + b"\0"
    fields = [0, mode, 0, 0, 1, 0, len(data), 0, 0, rdevmajor, rdevminor, len(name_b), 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = head + name_b
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)
archive = entry("dev/console", 0o20600, 5, 1) + entry("TRAILER!!!", 0)
archive += b"\0" * (-len(archive) % 512)
open(sys.argv[1], "ab").write(archive)
PY
}

# floor_argv RUN_ARGV_FILE INITRD OUTDIR: prints (NUL-separated) the argv a run
# recorded in its boot directory (console.log.qemu-argv), with the initrd
# swapped for INITRD, the console and results files moved to OUTDIR and the
# queue port of a --jobs run left out.
floor_argv() {
    python3 - "$@" <<'PY'
import sys
argv_file, initrd, outdir = sys.argv[1:4]
argv = open(argv_file, "rb").read().split(b"\0")[:-1]
out = []
# The queue port (--jobs) is a FIFO pair the runner makes per boot; the
# floor hands out no tests, so its chardev and port go.
queues = {p.split(b"=")[1] for i, a in enumerate(argv[:-1]) if a == b"-chardev"
          and argv[i + 1].startswith(b"pipe,") for p in argv[i + 1].split(b",") if p.startswith(b"id=")}
i = 0
while i < len(argv):
    a = argv[i]
    if i + 1 < len(argv) and a in (b"-chardev", b"-device") and any(
            p in (b"id=" + q, b"chardev=" + q) for q in queues for p in argv[i + 1].split(b",")):
        i += 2; continue
    out.append(a)
    if a == b"-initrd":
        out.append(initrd.encode()); i += 2; continue
    if a == b"-chardev" and i + 1 < len(argv):
        parts = argv[i + 1].split(b",")
        ident = next(p for p in parts if p.startswith(b"id=")).split(b"=")[1]
        fixed = [p if not p.startswith(b"path=") else b"path=" + outdir.encode() + b"/" + ident for p in parts]
        out.append(b",".join(fixed)); i += 2; continue
    i += 1
sys.stdout.buffer.write(b"".join(a + b"\0" for a in out))
PY
}

# floor_latest_argv CACHE: the qemu-argv file of the newest run's first boot
# (of its first guest, when --jobs split the run over several).
floor_latest_argv() {
    local runs="$1/runs" newest boot
    newest="$(ls -td "$runs"/*/ 2>/dev/null | grep -v '/\.new-' | head -1)"
    for boot in boot-1 guest-1/boot-1; do
        if [ -n "$newest" ] && [ -f "$newest/$boot/console.log.qemu-argv" ]; then
            echo "$newest/$boot/console.log.qemu-argv"
            return 0
        fi
    done
    echo "floor: no run with a recorded QEMU line under $runs" >&2
    return 1
}

# floor_boot ARGV_FILE: one floor boot, prints its wall seconds.
floor_boot() {
    local argv=() start end
    mapfile -d '' argv < "$1"
    start=$(date +%s.%N)
    "${argv[@]}" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
}
