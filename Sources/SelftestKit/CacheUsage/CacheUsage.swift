import Foundation

/// What the cache holds, area by area (`kernels`, `images`, `runs`, …),
/// with the space each takes on disk and what it is for.
public struct CacheUsage: Codable, Equatable, Sendable {
    /// One top-level directory or file of the cache.
    public struct Area: Codable, Equatable, Sendable {
        public var name: String
        /// Allocated bytes, as `du` counts them.
        public var bytes: Int64
        /// Entries directly in it (1 for a file).
        public var entries: Int
        public var purpose: String
    }
    public var root: String
    public var areas: [Area]
    public var total: Int64

    public init(root: String, areas: [Area]) {
        self.root = root
        self.areas = areas
        self.total = areas.reduce(0) { $0 + $1.bytes }
    }

    /// What each area is for, in the order the pipeline fills them.
    public static let purposes: [(name: String, purpose: String)] = [
        ("kernels", "default kernels scripts/setup.sh unpacked"),
        ("src", "kernel sources unpacked as git trees (the default tree)"),
        ("worktrees", "git worktrees series and bisect apply patches in, one per tree"),
        ("kbuild", "kernel build directories (O=), one per tree and config"),
        ("ccache", "ccache of the kernel builds"),
        ("test-progs", "the trees' own test_progs builds"),
        ("btf", "vmlinux.h per kernel"),
        ("pvh", "uncompressed kernels QEMU boots through their PVH entry, per image"),
        ("progs", "compiled BPF programs, per source, headers and clang"),
        ("images", "guest initramfs images and test_progs payloads"),
        ("runs", "per-run console logs, KTAP and initrd copies (newest kept)"),
        ("tmp", "scratch of running builds (a killed run's is swept)"),
        ("kvm-probe", "whether KVM runs a guest, per QEMU and kernel"),
        ("digests.json", "file digests remembered by path, size and mtime"),
        ("venv", "kcidb-io, KernelCI's schema validator, for the tests (setup.sh)"),
    ]

    /// Measures every area of the cache at `cache` (a full walk: seconds
    /// for a cache that holds kernel trees). `imagesMax` is the bound runs
    /// prune `images/` to, shown beside it.
    public static func measure(_ cache: Cache, imagesMax: Int64? = nil) -> CacheUsage {
        let root = cache.root.path
        let present = Set(DiskUsage.names(in: root))
        let usage = DiskUsage()
        var areas: [Area] = []
        for (name, purpose) in purposes where present.contains(name) {
            var purpose = purpose
            if name == "images" {
                purpose += imagesMax.map { " (LRU, pruned to \(ByteSize.format($0)))" } ?? ""
            }
            areas.append(area(name, purpose, root: root, usage: usage))
        }
        let known = Set(purposes.map(\.name))
        for name in present.subtracting(known).sorted() {
            let purpose = name.hasPrefix(".") ? "left by a write in progress" : "not selftests' own"
            areas.append(area(name, purpose, root: root, usage: usage))
        }
        return CacheUsage(root: root, areas: areas)
    }

    private static func area(_ name: String, _ purpose: String, root: String, usage: DiskUsage)
        -> Area
    {
        let path = root + "/" + name
        var st = stat()
        let isDirectory = lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        let entries =
            isDirectory ? DiskUsage.names(in: path).filter { !$0.hasPrefix(".") }.count : 1
        return Area(name: name, bytes: usage.allocated(path), entries: entries, purpose: purpose)
    }

    /// The table `selftests cache` prints.
    public var text: String {
        var lines = ["cache \(root)"]
        let width = Swift.max(12, areas.map(\.name.count).max() ?? 0)
        let heading = "area".padding(toLength: width, withPad: " ", startingAt: 0)
        lines.append("  \(heading)      size  entries  what for")
        for area in areas {
            let name = area.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let size = ByteSize.format(area.bytes)
            let padded = String(repeating: " ", count: Swift.max(0, 9 - size.count)) + size
            let count = String(area.entries)
            let entries = String(repeating: " ", count: Swift.max(0, 8 - count.count)) + count
            lines.append("  \(name) \(padded) \(entries)  \(area.purpose)")
        }
        let name = "total".padding(toLength: width, withPad: " ", startingAt: 0)
        let size = ByteSize.format(total)
        lines.append(
            "  \(name) \(String(repeating: " ", count: Swift.max(0, 9 - size.count)))\(size)")
        return lines.joined(separator: "\n")
    }
}
