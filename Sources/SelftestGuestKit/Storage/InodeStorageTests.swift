import CLibbpf
import Glibc

/// Mirrors `struct inode_value` in `progs/inode_storage_ops.bpf.c` (24 bytes).
struct InodeValue: Equatable {
    static let magic: UInt64 = 0x696e_6f64_7374_6f72  // "inodstor"
    var magic = InodeValue.magic
    var ino: UInt64
    var opens: UInt64
}

/// A file in the guest's tmpfs for one inode storage test, removed on deinit.
final class InodeTestFile {
    let path: String
    let ino: UInt64
    /// The file system's `dev_t` as the kernel keeps it (`sb->s_dev`).
    let kernelDev: UInt32
    private var unlinked = false

    init(_ name: String) throws {
        path = "/tmp/\(name)"
        let fd = Glibc.open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 { throw SystemCallError(call: "create \(path)", errno: errno) }
        close(fd)
        var info = stat()
        if stat(path, &info) != 0 { throw SystemCallError(call: "stat(\(path))", errno: errno) }
        ino = UInt64(info.st_ino)
        // new_encode_dev() undone: user space sees major/minor packed
        // differently from the kernel's MKDEV (major << 20 | minor).
        let dev = UInt64(info.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        kernelDev = UInt32(truncatingIfNeeded: major << 20 | minor)
    }

    func open() throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemCallError(call: "open(\(path))", errno: errno) }
        return fd
    }

    func unlink() {
        if !unlinked { Glibc.unlink(path) }
        unlinked = true
    }

    deinit { unlink() }
}

/// Inode storage: an LSM program attaches it on open, user space reads it by
/// file fd, and it goes when the inode does. Skips without the BPF LSM.
enum InodeStorageTests {
    static let bodies: [String: TestBody] = [
        "storage/inode/lsm_file_open_storage": { try lsmFileOpenStorage($0) },
        "storage/inode/freed_on_inode_evict": { try freedOnInodeEvict($0) },
    ]

    static let boundSeconds = 5.0

    static func load(_ context: TestContext, _ file: InodeTestFile) throws -> BPFObject {
        try LocalStorageProbe.requireBPFLSM(context)
        try LocalStorageProbe.require(.inode, context)
        let object = try BPFObject(path: context.objectPath("inode_storage_ops"))
        try object.global("target_tgid", as: UInt32.self).pointee = UInt32(getpid())
        try object.global("target_ino", as: UInt64.self).pointee = file.ino
        try object.attach("on_file_open")
        return object
    }

    /// One element per inode, created by the first open, found through every
    /// fd of the file, updated and deleted from user space, created again by
    /// the next open.
    static func lsmFileOpenStorage(_ context: TestContext) throws {
        let file = try InodeTestFile("selftests-inode-\(getpid())")
        let other = try InodeTestFile("selftests-inode-other-\(getpid())")
        let object = try load(context, file)
        let map = try object.map("inode_map")
        let what = "INODE_STORAGE"

        let first = try file.open()
        defer { close(first) }
        try context.expectEqual(
            try map.lookup(first, as: InodeValue.self).get(),
            InodeValue(ino: file.ino, opens: 1),
            "\(what) element after the first open (created by lsm/file_open)")
        let second = try file.open()
        defer { close(second) }
        try context.expectEqual(
            try map.lookup(first, as: InodeValue.self).get().opens, 2,
            "\(what) open count after a second open of the same inode")
        try context.expectEqual(
            map.update(second, InodeValue(ino: file.ino, opens: 100), flags: UInt64(BPF_EXIST)),
            0, "\(what) update BPF_EXIST through the second fd: errno")
        try context.expectEqual(
            try map.lookup(first, as: InodeValue.self).get().opens, 100,
            "\(what) value through the first fd after an update through the second")
        let unrelated = try other.open()
        defer { close(unrelated) }
        try context.expectEqual(
            errnoName(map.lookupErrno(unrelated, as: InodeValue.self)), errnoName(ENOENT),
            "\(what) lookup through an fd of another inode")

        try context.expectEqual(map.delete(first), 0, "\(what) delete by fd: errno")
        try context.expectEqual(
            errnoName(map.lookupErrno(second, as: InodeValue.self)), errnoName(ENOENT),
            "\(what) lookup through the other fd after the delete")
        let third = try file.open()
        defer { close(third) }
        try context.expectEqual(
            try map.lookup(third, as: InodeValue.self).get(),
            InodeValue(ino: file.ino, opens: 1), "\(what) element created again by the next open")
        try context.expectEqual(
            try object.global("create_failed", as: UInt32.self).pointee, 0,
            "bpf_inode_storage_get(F_CREATE) failures in lsm/file_open")
    }

    /// Unlinking the last name of a closed file evicts the inode: the element
    /// is still there as the inode starts going, and unlinked once
    /// `bpf_inode_storage_free()` returns.
    static func freedOnInodeEvict(_ context: TestContext) throws {
        let file = try InodeTestFile("selftests-inode-evict-\(getpid())")
        let object = try load(context, file)
        let map = try object.map("inode_map")
        let fd = try file.open()
        try context.expectEqual(
            try map.lookup(fd, as: InodeValue.self).get().opens, 1,
            "INODE_STORAGE open count after the open")
        close(fd)
        func u32(_ name: String) throws -> UInt32 {
            try object.global(name, as: UInt32.self).pointee
        }
        try object.global("watch_ino", as: UInt64.self).pointee = file.ino
        try object.global("watch_dev", as: UInt32.self).pointee = file.kernelDev
        try object.attach("on_inode_free")
        try object.attach("free_exit")

        let unlinkedAt = Clock.now()
        file.unlink()
        let freed = try context.waitUntil(seconds: boundSeconds) { try u32("free_done") != 0 }
        let ms = Int((Clock.now() - unlinkedAt) * 1000)
        if !freed {
            throw context.fail(
                "bpf_inode_storage_free() did not return for the unlinked inode within \(ms) ms "
                    + "(inode_free_security seen \(try u32("free_calls")) times)")
        }
        try context.expectEqual(try u32("free_calls"), 1, "inode_free_security calls for it")
        try context.expect(
            try u32("value_at_free") == 1,
            "the element was gone (or not ours) when the inode started to be freed")
        try context.expectEqual(
            try object.global("opens_at_free", as: UInt64.self).pointee, 1,
            "open count in the element as the inode was freed")
        try context.expectEqual(
            try u32("elems_at_exit"), 0, "elements still linked after bpf_inode_storage_free()")
        context.log("inode \(file.ino): storage freed \(ms) ms after unlink")
    }
}
