import CLibbpf
import Glibc

/// Mirrors `struct cgrp_value` in `progs/cgrp_storage_ops.bpf.c` (16 bytes).
struct CgrpValue: Equatable {
    static let magic: UInt64 = 0x6367_7270_7374_6f72  // "cgrpstor"
    var magic = CgrpValue.magic
    var generation: UInt64
}

/// Cgroup storage: user space keyed by a cgroup fd, BPF on the current
/// task's cgroup, and storage freed with its cgroup. Each test first probes
/// for the map type and skips where the kernel has none.
enum CgrpStorageTests {
    static let bodies: [String: TestBody] = [
        "storage/cgrp/user_fd_access": { try userFdAccess($0) },
        "storage/cgrp/bpf_get_delete_current": { try bpfGetDeleteCurrent($0) },
        "storage/cgrp/freed_on_rmdir": { try freedOnRmdir($0) },
    ]

    static let boundSeconds = 10.0

    static func userFdAccess(_ context: TestContext) throws {
        try LocalStorageProbe.require(.cgrp, context)
        let map = try BPFMap.localStorage(
            .cgrp, name: "cgrp_user", valueSize: MemoryLayout<CgrpValue>.size)
        let first = try TestCgroup("selftests-cgrp-a-\(getpid())")
        let second = try TestCgroup("selftests-cgrp-b-\(getpid())")
        let a = try first.open()
        let b = try second.open()
        defer { [a, b].forEach { close($0) } }
        let what = "CGRP_STORAGE"

        try context.expectEqual(
            errnoName(map.update(a, CgrpValue(generation: 1), flags: UInt64(BPF_EXIST))),
            errnoName(ENOENT), "\(what) update BPF_EXIST by cgroup fd without storage")
        try context.expectEqual(
            map.update(a, CgrpValue(generation: 1), flags: UInt64(BPF_NOEXIST)), 0,
            "\(what) update BPF_NOEXIST by cgroup fd: errno")
        try context.expectEqual(
            errnoName(map.update(a, CgrpValue(generation: 2), flags: UInt64(BPF_NOEXIST))),
            errnoName(EEXIST), "\(what) update BPF_NOEXIST on an existing element")
        try context.expectEqual(
            map.update(a, CgrpValue(generation: 3), flags: UInt64(BPF_EXIST)), 0,
            "\(what) update BPF_EXIST on an existing element: errno")
        try context.expectEqual(
            try map.lookup(a, as: CgrpValue.self).get(), CgrpValue(generation: 3),
            "\(what) lookup by cgroup fd")
        try context.expectEqual(
            errnoName(map.lookupErrno(b, as: CgrpValue.self)), errnoName(ENOENT),
            "\(what) lookup by another cgroup's fd")
        try context.expectEqual(map.delete(a), 0, "\(what) delete by cgroup fd: errno")
        try context.expectEqual(errnoName(map.delete(a)), errnoName(ENOENT), "\(what) 2nd delete")
        try context.expectEqual(
            errnoName(map.lookupErrno(a, as: CgrpValue.self)), errnoName(ENOENT),
            "\(what) lookup after delete")
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { throw SystemCallError(call: "pipe", errno: errno) }
        defer { fds.forEach { close($0) } }
        try context.expectEqual(
            errnoName(map.update(fds[0], CgrpValue(generation: 4))), errnoName(EBADF),
            "\(what) update keyed by a pipe fd (not a cgroup)")
    }

    /// `bpf_cgrp_storage_get/delete` on the current task's cgroup, seen
    /// from user space through the cgroup's fd and the other way round.
    static func bpfGetDeleteCurrent(_ context: TestContext) throws {
        try LocalStorageProbe.require(.cgrp, context)
        let object = try BPFObject(path: context.objectPath("cgrp_storage_ops"))
        let map = try object.map("cgrp_map")
        let cgroup = try TestCgroup("selftests-cgrp-bpf-\(getpid())")
        let fd = try cgroup.open()
        defer { close(fd) }
        try cgroup.enter()
        defer { TestCgroup.leave() }
        try object.global("target_tid", as: UInt32.self).pointee = Libc.gettid()
        try object.attach("on_getppid")

        func run(_ op: UInt32, _ arg: UInt64 = 0) throws -> (ret: Int64, value: CgrpValue?) {
            func global<T>(_ name: String, _ type: T.Type) throws -> UnsafeMutablePointer<T> {
                try object.global(name, as: type)
            }
            let calls = try global("calls", UInt32.self).pointee
            try global("op", UInt32.self).pointee = op
            try global("arg", UInt64.self).pointee = arg
            _ = getppid()
            if try global("calls", UInt32.self).pointee != calls + 1 {
                throw context.fail("the sys_enter program did not run for op \(op)")
            }
            let value = CgrpValue(
                magic: try global("last_magic", UInt64.self).pointee,
                generation: try global("last_generation", UInt64.self).pointee)
            let found = try global("last_found", UInt32.self).pointee != 0
            return (try global("last_ret", Int64.self).pointee, found ? value : nil)
        }
        let (get, getCreate, delete): (UInt32, UInt32, UInt32) = (1, 2, 3)

        try context.expect(
            try run(get).value == nil, "bpf_cgrp_storage_get found an element on a new cgroup")
        try context.expectEqual(
            try object.global("last_cgroup_id", as: UInt64.self).pointee, try cgroup.id(),
            "id of the cgroup the program saw (the test's own)")
        try context.expectEqual(
            try run(getCreate, 7).value, CgrpValue(generation: 7),
            "bpf_cgrp_storage_get(F_CREATE) on a cgroup without storage")
        try context.expectEqual(
            try map.lookup(fd, as: CgrpValue.self).get(), CgrpValue(generation: 7),
            "user-space lookup by cgroup fd of the element BPF created")
        try context.expectEqual(
            try run(getCreate, 8).value, CgrpValue(generation: 7),
            "bpf_cgrp_storage_get(F_CREATE) on an existing element (must return it unchanged)")
        try context.expectEqual(
            map.update(fd, CgrpValue(generation: 9), flags: UInt64(BPF_EXIST)), 0,
            "user-space update BPF_EXIST of the element BPF created: errno")
        try context.expectEqual(
            try run(get).value, CgrpValue(generation: 9),
            "bpf_cgrp_storage_get after the user-space update")
        try context.expectEqual(try run(delete).ret, 0, "bpf_cgrp_storage_delete return")
        try context.expectEqual(
            errnoName(map.lookupErrno(fd, as: CgrpValue.self)), errnoName(ENOENT),
            "user-space lookup after bpf_cgrp_storage_delete")
        try context.expectEqual(
            try run(delete).ret, Int64(-ENOENT), "bpf_cgrp_storage_delete of a deleted element")
    }

    /// Removing a cgroup frees its storage: `bpf_cgrp_storage_free()` finds
    /// the element the test stored, and none is linked after it.
    static func freedOnRmdir(_ context: TestContext) throws {
        try LocalStorageProbe.require(.cgrp, context)
        let object = try BPFObject(path: context.objectPath("cgrp_storage_ops"))
        let map = try object.map("cgrp_map")
        let cgroup = try TestCgroup("selftests-cgrp-rm-\(getpid())")
        let fd = try cgroup.open()
        try context.expectEqual(
            map.update(fd, CgrpValue(generation: 11), flags: UInt64(BPF_NOEXIST)), 0,
            "update by cgroup fd: errno")
        close(fd)
        func u32(_ name: String) throws -> UInt32 {
            try object.global(name, as: UInt32.self).pointee
        }
        try object.global("watch_id", as: UInt64.self).pointee = try cgroup.id()
        try object.attach("free_entry")
        try object.attach("free_exit")

        let removedAt = Clock.now()
        try context.expectEqual(errnoName(cgroup.remove()), errnoName(0), "rmdir of the cgroup")
        let freed = try context.waitUntil(seconds: boundSeconds) { try u32("free_done") != 0 }
        let ms = Int((Clock.now() - removedAt) * 1000)
        if !freed {
            throw context.fail(
                "bpf_cgrp_storage_free() did not return for the removed cgroup within \(ms) ms "
                    + "(entry seen \(try u32("free_entry_calls")) times)")
        }
        try context.expectEqual(
            try u32("free_entry_calls"), 1, "calls of bpf_cgrp_storage_free() for the cgroup")
        try context.expectEqual(
            try u32("elems_at_entry"), 1, "elements on the cgroup at bpf_cgrp_storage_free()")
        try context.expectEqual(
            try u32("elems_at_exit"), 0, "elements still linked after bpf_cgrp_storage_free()")
        context.log("cgroup storage freed \(ms) ms after rmdir")
    }
}
