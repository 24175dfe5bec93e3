import CLibbpf
import Glibc

/// Mirrors `struct task_value` in `progs/task_storage_ops.bpf.c` (16 bytes).
struct TaskValue: Equatable {
    static let magic: UInt64 = 0x7461_736b_7374_6f72  // "taskstor"
    var magic = TaskValue.magic
    var generation: UInt64
}

/// Drives `progs/task_storage_ops.bpf.c`: the operation runs from BPF on
/// the calling thread's task when the thread calls `getppid()`.
final class TaskOpsProgram {
    enum Op: UInt32 {
        case get = 1
        case getCreate = 2
        case delete = 3
    }

    let object: BPFObject

    init(_ context: TestContext) throws {
        object = try BPFObject(path: context.objectPath("task_storage_ops"))
        try object.attach("on_getppid")
        try object.global("target_tid", as: UInt32.self).pointee = Libc.gettid()
    }

    func global<T>(_ name: String, as type: T.Type) throws -> UnsafeMutablePointer<T> {
        try object.global(name, as: type)
    }

    /// Runs `op` on the current task; returns the helper's return value
    /// (delete) and the element it returned (get), if any.
    func run(_ op: Op, arg: UInt64 = 0) throws -> (ret: Int64, value: TaskValue?) {
        let calls = try global("calls", as: UInt32.self).pointee
        try global("op", as: UInt32.self).pointee = op.rawValue
        try global("arg", as: UInt64.self).pointee = arg
        _ = getppid()
        if try global("calls", as: UInt32.self).pointee != calls + 1 {
            throw TestStop.fail("the sys_enter program did not run for op \(op)")
        }
        let value = TaskValue(
            magic: try global("last_magic", as: UInt64.self).pointee,
            generation: try global("last_generation", as: UInt64.self).pointee)
        let found = try global("last_found", as: UInt32.self).pointee != 0
        return (try global("last_ret", as: Int64.self).pointee, found ? value : nil)
    }
}

/// Task storage: user-space access by pidfd, BPF access on the current task,
/// and storage released with its task.
enum TaskStorageTests {
    static let bodies: [String: TestBody] = [
        "storage/task/user_pidfd_access": { try userPidfdAccess($0) },
        "storage/task/bpf_get_delete_current": { try bpfGetDeleteCurrent($0) },
        "storage/task/freed_on_task_exit": { try freedOnTaskExit($0) },
    ]

    static let boundSeconds = 5.0

    /// Update flags, lookup and delete keyed by a pidfd; an element belongs to
    /// its task only; a pidfd whose task is gone, or an fd that is not a
    /// pidfd, is refused.
    static func userPidfdAccess(_ context: TestContext) throws {
        let map = try BPFMap.localStorage(
            .task, name: "task_user", valueSize: MemoryLayout<TaskValue>.size)
        let me = try Libc.pidfdOpen(getpid())
        defer { close(me) }
        let child = try ParkedProcess()
        let what = "TASK_STORAGE"

        try context.expectEqual(
            errnoName(map.update(me, TaskValue(generation: 1), flags: UInt64(BPF_EXIST))),
            errnoName(ENOENT), "\(what) update BPF_EXIST by pidfd on a task without storage")
        try context.expectEqual(
            map.update(me, TaskValue(generation: 1), flags: UInt64(BPF_NOEXIST)), 0,
            "\(what) update BPF_NOEXIST by pidfd: errno")
        try context.expectEqual(
            errnoName(map.update(me, TaskValue(generation: 2), flags: UInt64(BPF_NOEXIST))),
            errnoName(EEXIST), "\(what) update BPF_NOEXIST on an existing element")
        try context.expectEqual(
            map.update(me, TaskValue(generation: 3), flags: UInt64(BPF_EXIST)), 0,
            "\(what) update BPF_EXIST on an existing element: errno")
        try context.expectEqual(
            try map.lookup(me, as: TaskValue.self).get(), TaskValue(generation: 3),
            "\(what) lookup by pidfd")
        try context.expectEqual(
            errnoName(map.lookupErrno(child.pidfd, as: TaskValue.self)), errnoName(ENOENT),
            "\(what) lookup by another task's pidfd (its storage is its own)")
        try context.expectEqual(
            map.update(child.pidfd, TaskValue(generation: 4)), 0,
            "\(what) update by the child's pidfd: errno")
        try context.expectEqual(
            try map.lookup(me, as: TaskValue.self).get().generation, 3,
            "\(what) generation of this task after the child's update")

        try context.expectEqual(map.delete(me), 0, "\(what) delete by pidfd: errno")
        try context.expectEqual(errnoName(map.delete(me)), errnoName(ENOENT), "\(what) 2nd delete")
        try context.expectEqual(
            errnoName(map.lookupErrno(me, as: TaskValue.self)), errnoName(ENOENT),
            "\(what) lookup after delete")

        try context.expect(child.releaseAndReap(), "the parked child did not exit when released")
        try context.expectEqual(
            errnoName(map.lookupErrno(child.pidfd, as: TaskValue.self)), errnoName(ENOENT),
            "\(what) lookup by the pidfd of a reaped task")
        try context.expectEqual(
            errnoName(map.update(child.pidfd, TaskValue(generation: 5))), errnoName(ENOENT),
            "\(what) update by the pidfd of a reaped task")
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { throw SystemCallError(call: "pipe", errno: errno) }
        defer { fds.forEach { close($0) } }
        try context.expectEqual(
            errnoName(map.update(fds[0], TaskValue(generation: 6))), errnoName(EBADF),
            "\(what) update keyed by a pipe fd (not a pidfd)")
    }

    /// `bpf_task_storage_get/delete` from a tracing program on the current
    /// task, seen from user space through a pidfd and the other way round.
    static func bpfGetDeleteCurrent(_ context: TestContext) throws {
        let program = try TaskOpsProgram(context)
        let map = try program.object.map("task_map")
        let me = try Libc.pidfdOpen(getpid())
        defer { close(me) }

        try context.expect(
            try program.run(.get).value == nil,
            "bpf_task_storage_get without F_CREATE found an element on a task without one")
        try context.expectEqual(
            try program.run(.getCreate, arg: 7).value, TaskValue(generation: 7),
            "bpf_task_storage_get(F_CREATE) on a task without storage")
        try context.expectEqual(
            try map.lookup(me, as: TaskValue.self).get(), TaskValue(generation: 7),
            "user-space lookup by pidfd of the element BPF created")
        try context.expectEqual(
            try program.run(.getCreate, arg: 8).value, TaskValue(generation: 7),
            "bpf_task_storage_get(F_CREATE) on an existing element (must return it unchanged)")
        try context.expectEqual(
            map.update(me, TaskValue(generation: 9), flags: UInt64(BPF_EXIST)), 0,
            "user-space update BPF_EXIST of the element BPF created: errno")
        try context.expectEqual(
            try program.run(.get).value, TaskValue(generation: 9),
            "bpf_task_storage_get after the user-space update")
        try context.expectEqual(try program.run(.delete).ret, 0, "bpf_task_storage_delete return")
        try context.expectEqual(
            errnoName(map.lookupErrno(me, as: TaskValue.self)), errnoName(ENOENT),
            "user-space lookup after bpf_task_storage_delete")
        try context.expectEqual(
            try program.run(.delete).ret, Int64(-ENOENT),
            "bpf_task_storage_delete of a deleted element")
        try context.expectEqual(
            map.update(me, TaskValue(generation: 10), flags: UInt64(BPF_NOEXIST)), 0,
            "user-space BPF_NOEXIST after bpf_task_storage_delete: errno")
        try context.expectEqual(
            try program.run(.delete).ret, 0, "bpf_task_storage_delete of a user-space element")
    }

    /// A task's storage goes with the task: `bpf_task_storage_free()` finds
    /// the element the test stored by pidfd, and none is linked after it.
    static func freedOnTaskExit(_ context: TestContext) throws {
        let object = try BPFObject(path: context.objectPath("task_storage_ops"))
        let map = try object.map("task_map")
        let child = try ParkedProcess()
        let generation = UInt64(child.pid) << 16 | 0x77
        try context.expectEqual(
            map.update(child.pidfd, TaskValue(generation: generation), flags: UInt64(BPF_NOEXIST)),
            0, "update by the child's pidfd: errno")
        func u32(_ name: String) throws -> UInt32 {
            try object.global(name, as: UInt32.self).pointee
        }
        try object.global("watch_generation", as: UInt64.self).pointee = generation
        try object.global("watch_pid", as: UInt32.self).pointee = UInt32(child.pid)
        try object.attach("free_entry")
        try object.attach("free_exit")

        let exitedAt = Clock.now()
        try context.expect(child.releaseAndReap(), "the parked child did not exit when released")
        // Every call that entered has returned, and at least one did.
        let freed = try context.waitUntil(seconds: boundSeconds) {
            let exits = try u32("free_exit_calls")
            let entries = try u32("free_entry_calls")
            return exits > 0 && exits == entries
        }
        let ms = Int((Clock.now() - exitedAt) * 1000)
        let calls = try u32("free_entry_calls")
        if !freed {
            throw context.fail(
                "bpf_task_storage_free() did not return for the exited child within \(ms) ms "
                    + "(entered \(calls) times, returned \(try u32("free_exit_calls")))")
        }
        try context.expectEqual(
            try u32("elems_at_entry"), 1, "elements on the child at bpf_task_storage_free()")
        try context.expect(
            try u32("value_at_entry") == 1,
            "the child's element at bpf_task_storage_free() did not hold the value stored")
        try context.expectEqual(
            try u32("elems_at_exit"), 0, "elements still linked after bpf_task_storage_free()")
        try context.expectEqual(
            errnoName(map.lookupErrno(child.pidfd, as: TaskValue.self)), errnoName(ENOENT),
            "lookup by the pidfd of the reaped child")
        context.log(
            "child \(child.pid): storage freed \(ms) ms after it was released "
                + "(bpf_task_storage_free() called \(calls) times)")
    }
}
