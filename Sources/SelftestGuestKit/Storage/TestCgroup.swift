import Glibc

/// A cgroup v2 directory a storage test creates under `/sys/fs/cgroup`
/// (the guest mounts cgroup2 there): opened, its fd is the key of cgroup
/// storage; its id (the directory's inode number) is what BPF reads as
/// `cgrp->kn->id`.
final class TestCgroup {
    static let root = "/sys/fs/cgroup"
    let path: String
    private var removed = false

    /// Creates `parent/name`; an existing directory from an earlier, killed
    /// run is reused.
    init(_ name: String, under parent: String = TestCgroup.root) throws {
        path = "\(parent)/\(name)"
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SystemCallError(call: "mkdir(\(path))", errno: errno)
        }
    }

    /// An fd for the directory; the caller closes it.
    func open() throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SystemCallError(call: "open(\(path))", errno: errno) }
        return fd
    }

    /// The cgroup id: the inode number of its directory in cgroupfs.
    func id() throws -> UInt64 {
        var info = stat()
        if stat(path, &info) != 0 { throw SystemCallError(call: "stat(\(path))", errno: errno) }
        return UInt64(info.st_ino)
    }

    /// Moves the calling process (all its threads) into this cgroup.
    func enter() throws {
        if !FD.writeFile("\(path)/cgroup.procs", "\(getpid())\n") {
            throw SystemCallError(call: "write \(path)/cgroup.procs", errno: errno)
        }
    }

    /// Moves the calling process back to the root cgroup.
    static func leave() {
        FD.writeFile("\(root)/cgroup.procs", "\(getpid())\n")
    }

    /// `rmdir`; 0 or the errno. The kernel frees the cgroup (and its
    /// storage) later, from a workqueue after RCU.
    @discardableResult
    func remove() -> Int32 {
        if removed { return 0 }
        if rmdir(path) != 0 { return errno }
        removed = true
        return 0
    }

    deinit { remove() }
}
