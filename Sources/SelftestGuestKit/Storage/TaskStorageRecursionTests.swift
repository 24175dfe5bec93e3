import CLibbpf
import Glibc

/// Task storage helpers re-entered from inside the local-storage code, and
/// the same map hammered from every context at once: no deadlock, no splat,
/// and no failure where the kernel promises none.
enum TaskStorageRecursionTests {
    static let bodies: [String: TestBody] = [
        "storage/task/recursion_no_deadlock": { try recursion($0) },
        "storage/task/nodeadlock_stress": { try noDeadlockStress($0) },
    ]

    static let probeValue: UInt64 = 0x9e57
    static let victimValue: UInt64 = 0x71c7

    /// One case per attach point: before the update takes any lock, and in
    /// `bpf_selem_link_map()`, under the task's `local_storage->lock`.
    static func recursion(_ context: TestContext) throws {
        context.runCase("nested_in_update") {
            try nested(context, "nested_in_update", inside: "bpf_local_storage_update")
        }
        context.runCase("nested_in_link_map") {
            try nested(context, "nested_in_link_map", inside: "bpf_selem_link_map")
        }
    }

    static func nested(_ context: TestContext, _ programName: String, inside function: String)
        throws
    {
        let object = try BPFObject(path: context.objectPath("task_storage_recursion"))
        let outer = try object.map("outer_map")
        let probe = try object.map("probe_map")
        let victim = try object.map("victim_map")
        let me = try Libc.pidfdOpen(getpid())
        defer { close(me) }
        try context.expectEqual(probe.update(me, probeValue), 0, "probe_map update: errno")
        try context.expectEqual(victim.update(me, victimValue), 0, "victim_map update: errno")
        func u32(_ name: String) throws -> UInt32 {
            try object.global(name, as: UInt32.self).pointee
        }
        try object.global("target_tid", as: UInt32.self).pointee = Libc.gettid()
        try object.attach(programName)
        try object.attach("on_getppid")

        let started = Clock.now()
        _ = getppid()
        let ms = Int((Clock.now() - started) * 1000)
        let deleteRet = try object.global("nested_delete_ret", as: Int64.self).pointee
        let probeSeen = try object.global("nested_probe_value", as: UInt64.self).pointee
        let outerFound = try u32("outer_found") != 0
        let nestedCreated = try u32("nested_create_found") != 0
        context.log(
            "\(function): getppid() returned in \(ms) ms; nested runs \(try u32("nested_calls")), "
                + "probe lookup \(try u32("nested_probe_found") != 0 ? "found" : "NULL"), "
                + "delete \(deleteRet), nested create \(nestedCreated ? "ok" : "NULL"), "
                + "outer create \(outerFound ? "ok" : "NULL")")

        try context.expect(
            try u32("outer_done") == 1,
            "the outer program did not get past bpf_task_storage_get(outer_map, F_CREATE)")
        try context.expect(
            try u32("nested_calls") >= 1,
            "the program on \(function) never ran inside the outer update: nothing re-entered")
        let probeFound = try u32("nested_probe_found") == 1
        try context.expect(
            probeFound && probeSeen == probeValue,
            "inside \(function), bpf_task_storage_get(probe_map) without F_CREATE returned "
                + "\(probeFound ? "value \(probeSeen)" : "NULL") for the "
                + "task's existing element (\(probeValue)): looking up existing storage takes "
                + "no lock, so re-entry must not make it fail")
        let allowed = [0, -EBUSY, -EDEADLK, -ETIMEDOUT].map(Int64.init)
        try context.expect(
            allowed.contains(deleteRet),
            "inside \(function), bpf_task_storage_delete(victim_map) returned \(deleteRet): "
                + "expected 0, or -EBUSY/-EDEADLK/-ETIMEDOUT for a lock it must not wait for")
        let victimErrno = victim.lookupErrno(me, as: UInt64.self)
        if deleteRet == 0 {
            try context.expectEqual(
                errnoName(victimErrno), errnoName(ENOENT),
                "victim_map lookup after the nested delete reported success")
        } else {
            try context.expectEqual(
                try victim.lookup(me, as: UInt64.self).get(), victimValue,
                "victim_map value after the nested delete was refused (\(deleteRet))")
        }
        try context.expect(
            outerFound || nestedCreated,
            "neither the outer nor the nested bpf_task_storage_get(outer_map, F_CREATE) "
                + "returned an element")
        try context.expectEqual(
            outer.lookupErrno(me, as: UInt64.self), 0,
            "outer_map lookup by pidfd after getppid() returned: errno")
        for (name, map) in [("outer_map", outer), ("probe_map", probe)] {
            try context.expectEqual(
                map.delete(me), 0, "user-space delete in \(name) after the recursion: errno")
        }
    }

    /// Threads creating sockets (a sleepable LSM program creates and deletes
    /// their task's element), threads updating and deleting the process's
    /// element from user space, and a tracing program doing the same on
    /// every system call, for a bounded time.
    static func noDeadlockStress(_ context: TestContext) throws {
        let object = try BPFObject(path: context.objectPath("task_storage_nodeadlock"))
        let map = try object.map("stress_map")
        try object.global("target_tgid", as: UInt32.self).pointee = UInt32(getpid())
        try object.attach("on_socket")
        try object.attach("on_syscall")
        func u64(_ name: String) throws -> UInt64 {
            try object.global(name, as: UInt64.self).pointee
        }
        let me = try Libc.pidfdOpen(getpid())
        defer { close(me) }

        let cpus = Libc.onlineCPUs()
        let socketThreads = 16
        let mapThreads = max(2, cpus.count)
        let seconds = 2.0
        let deadline = Clock.now() + seconds
        // Socket threads share CPU 0, so a task preempted inside the
        // sleepable program meets the others on the same CPU.
        let results = try Threads.run(socketThreads + mapThreads) {
            index -> (ops: Int, errors: [Int32]) in
            let isSocketThread = index < socketThreads
            try? Libc.pin(to: isSocketThread ? 0 : cpus[index % cpus.count])
            var ops = 0
            var errors: [Int32] = []
            while Clock.now() < deadline && ops < 50_000 {
                ops += 1
                if isSocketThread {
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    if fd >= 0 { close(fd) } else { errors.append(errno) }
                    continue
                }
                let rc = map.update(me, UInt64(ops))
                if rc != 0 && rc != EAGAIN { errors.append(rc) }
                let deleted = map.delete(me)
                if deleted != 0 && deleted != ENOENT { errors.append(deleted) }
            }
            return (ops, errors)
        }
        let sockets = results[..<socketThreads].reduce(0) { $0 + $1.ops }
        let userOps = results[socketThreads...].reduce(0) { $0 + $1.ops }
        let errors = results.flatMap(\.errors)
        context.log(
            "\(seconds) s on \(cpus.count) CPU(s): \(sockets) sockets by \(socketThreads) threads, "
                + "\(userOps) user-space update+delete pairs by \(mapThreads) threads, "
                + "\(try u64("syscall_ops")) sys_enter runs (get failed "
                + "\(try u64("syscall_get_fail")), delete failed "
                + "\(try u64("syscall_delete_fail")) in the tracing program)")
        try context.expect(
            errors.isEmpty,
            "system call or map errors under stress: \(Set(errors).map(errnoName).sorted())")
        try context.expectEqual(
            try u64("socket_ops"), UInt64(sockets),
            "runs of the lsm.s/socket_post_create program (one per socket created)")
        try context.expect(try u64("syscall_ops") > 0, "the sys_enter program never ran")
        try context.expectEqual(
            try u64("get_fail"), 0,
            "bpf_task_storage_get(F_CREATE) failures in a sleepable LSM program (it may wait "
                + "for the lock, never fail spuriously)")
        let lastDeleteError = try object.global("last_delete_error", as: Int64.self).pointee
        try context.expectEqual(
            try u64("delete_fail"), 0,
            "bpf_task_storage_delete failures in a sleepable LSM program (last error "
                + "\(lastDeleteError))")
    }
}
