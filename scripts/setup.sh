#!/usr/bin/env bash
# Installs every system dependency of selftests with apt and puts the default
# kernel (Debian's newest 6.12 cloud image: BTF, virtio built in) in the cache.
# Idempotent: prints nothing when everything is already in place.
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}/selftests"
log="$(mktemp -t selftests-setup.XXXXXX)"
trap 'rm -f "$log"' EXIT

say() { printf 'setup: %s\n' "$*"; }
fail() { printf 'setup: error: %s\n' "$*" >&2; [ -s "$log" ] && tail -20 "$log" >&2; exit 1; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "run as root, or install sudo"
    sudo_cmd=(sudo)
fi
apt_updated=no
apt_update() {
    [ "$apt_updated" = yes ] && return
    say "apt-get update"
    "${sudo_cmd[@]}" apt-get update -qq >"$log" 2>&1 || fail "apt-get update failed"
    apt_updated=yes
}

packages=(qemu-system-x86 libbpf-dev libelf-dev bpftool busybox-static pkg-config zstd xz-utils ccache)
# Any clang with the BPF backend will do (the Swift toolchain's has one);
# install Debian's only when none is on PATH.
if ! command -v clang >/dev/null || ! clang -print-targets 2>/dev/null | grep -qw bpf; then
    packages+=(clang llvm)
fi
# Building a kernel from a source tree (`selftests kernel build`, `run --tree`):
# the compiler and Kbuild's host tools, pahole for BTF, and Debian's 6.12 source
# (only the tarball; `selftests kernel source` unpacks it into the cache on first
# use, which keeps this script quick).
packages+=(gcc make flex bison bc libssl-dev libelf-dev cpio python3 git linux-source-6.12)
# KernelCI's KCIDB schema validator (kcidb-io, PyPI) for the --kcidb tests,
# check-jsonschema with its bundled GitHub Actions and GitLab CI schemas for
# the example CI files (actionlint is in neither Debian nor, as a wheel,
# PyPI), and virtme-ng (PyPI) for scripts/bench-vs-vng.sh, in a virtual
# environment under the cache. virtme-ng shares the host's filesystem with
# the guest over virtiofs (virtiofsd) or 9p, and starts its guest with busybox.
packages+=(python3-venv)
# The tree's own test_progs (`--test-progs`): clang-19/llvm-19, the newest
# bookworm has (the BPF selftests follow upstream LLVM closely), lld-19
# because `LLVM=-19` makes tools/ link libbpf with ld.lld-19, rsync for the
# scratch copy it builds in, objcopy for the BTF, and the libraries
# test_progs and bpftool link.
packages+=(clang-19 llvm-19 lld-19 rsync zlib1g-dev libzstd-dev libcap-dev binutils)
# Debian ships pahole in its own package since bookworm; dwarves before that.
if ! command -v pahole >/dev/null; then
    if apt-cache show pahole >/dev/null 2>&1; then packages+=(pahole); else packages+=(dwarves); fi
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt_update
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$log" 2>&1 || fail "apt-get install ${missing[*]} failed"
fi

venv="$cache/venv"
if ! "$venv/bin/python" -c '' 2>/dev/null; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >"$log" 2>&1 || fail "python3 -m venv $venv failed"
fi
# PACKAGE:MODULE pairs; a module that imports is a package already installed.
for wanted in kcidb-io:kcidb_io check-jsonschema:check_jsonschema virtme-ng:virtme_ng; do
    package="${wanted%%:*}"
    "$venv/bin/python" -c "import ${wanted#*:}" 2>/dev/null && continue
    say "installing $package (PyPI) into $venv"
    "$venv/bin/pip" install -q "$package" >"$log" 2>&1 || fail "pip install $package failed"
done

# The default kernel: the newest linux-image-6.12.*-cloud-amd64-unsigned,
# unpacked (boot/ only) into $cache/kernels/VERSION.
newest_kernel() {
    apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-unsigned$' 2>/dev/null \
        | awk '{print $1}' | sort -V | tail -1
}
pkg="$(newest_kernel)"
if [ -z "$pkg" ]; then
    apt_update
    pkg="$(newest_kernel)"
fi
[ -n "$pkg" ] || fail "no linux-image-6.12.*-cloud-amd64-unsigned package in the apt sources"
version="${pkg#linux-image-}"
version="${version%-unsigned}"
dest="$cache/kernels/$version"
if [ ! -f "$dest/boot/vmlinuz-$version" ]; then
    say "fetching kernel $pkg"
    work="$(mktemp -d "${TMPDIR:-/tmp}/selftests-kernel.XXXXXX")"
    chmod 755 "$work"
    (cd "$work" && apt-get download -qq "$pkg" >"$log" 2>&1) || { rm -rf "$work"; fail "apt-get download $pkg failed"; }
    dpkg-deb -x "$work"/*.deb "$work/root" || { rm -rf "$work"; fail "cannot unpack $pkg"; }
    mkdir -p "$cache/kernels"
    stage="$cache/kernels/.stage-$$"
    rm -rf "$stage"
    mkdir -p "$stage"
    mv "$work/root/boot" "$stage/boot"
    rm -rf "$work" "$dest"
    mv "$stage" "$dest"
    say "kernel $version in $dest"
fi
