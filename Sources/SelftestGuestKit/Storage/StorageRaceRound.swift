import CLibbpf
import Glibc

/// One round of the map_free / owner destroy race: a map per storage kind,
/// owners of each kind holding an element, then the maps freed by one
/// thread while another destroys half the owners.
struct StorageRaceRound {
    static let ownersPerKind = 12
    static let valueSize = 4096

    let context: TestContext
    let index: Int
    let watch: SkDestroyWatch
    /// The cgroup the owner cgroups are made under.
    let parent: String
    let withCgroups: Bool

    /// What a round leaves for the checks after it.
    struct Outcome {
        var maps: Int
        var destroyedCookies: [UInt64]
        var survivorCookies: [UInt64]
    }

    func run() throws -> Outcome {
        let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: Self.valueSize)
        var maps = [try BPFMap.localStorage(.sk, name: "lsrace_sk", valueSize: Self.valueSize)]
        maps.append(try BPFMap.localStorage(.task, name: "lsrace_task", valueSize: Self.valueSize))
        if withCgroups {
            maps.append(
                try BPFMap.localStorage(.cgrp, name: "lsrace_cgrp", valueSize: Self.valueSize))
        }
        let n = Self.ownersPerKind
        let sockets = try (0..<n).map { i -> TestSocket in
            try i % 2 == 0 ? TestSocket.tcp() : TestSocket.udp()
        }
        let baselines = try sockets.map { Int(try $0.optmem()) }
        let tasks = try (0..<n).map { _ in try ParkedProcess() }
        let cgroups = try (0..<(withCgroups ? n : 0)).map {
            try TestCgroup("owner-\(index)-\($0)", under: parent)
        }
        for socket in sockets { try update(maps[0], socket.fd, bytes, "socket") }
        for task in tasks { try update(maps[1], task.pidfd, bytes, "task") }
        for cgroup in cgroups {
            let fd = try cgroup.open()
            defer { close(fd) }
            try update(maps[2], fd, bytes, "cgroup")
        }
        try watch.watch(sockets)
        let cookies = try sockets.map { try $0.cookie() }

        // Even owners are destroyed during the race, odd ones survive it.
        let ready = SharedCounter()
        _ = try Threads.run(2) { thread in
            ready.add(1)
            while ready.current < 2 {}
            if thread == 0 {
                for map in maps { map.close() }
                return
            }
            for i in stride(from: 0, to: n, by: 2) {
                sockets[i].close()
                tasks[i].release()
                if i < cgroups.count { cgroups[i].remove() }
            }
            for i in stride(from: 0, to: n, by: 2) { tasks[i].releaseAndReap() }
        }
        let odd = stride(from: 1, to: n, by: 2).map { $0 }
        let survivors = odd.map { sockets[$0] }
        try SkStorageFamilyTests.waitForOptmem(
            context, survivors, odd.map { baselines[$0] },
            "of the sockets that outlived their map (round \(index))")
        for i in odd {
            sockets[i].close()
            if !tasks[i].releaseAndReap() {
                throw context.fail("a parked child did not exit when released (round \(index))")
            }
            if i < cgroups.count {
                let rc = cgroups[i].remove()
                if rc != 0 { throw context.fail("rmdir \(cgroups[i].path): \(errnoName(rc))") }
            }
        }
        return Outcome(
            maps: maps.count,
            destroyedCookies: stride(from: 0, to: n, by: 2).map { cookies[$0] },
            survivorCookies: odd.map { cookies[$0] })
    }

    private func update(_ map: BPFMap, _ fd: Int32, _ bytes: [UInt8], _ owner: String) throws {
        let rc = map.update(fd: fd, bytes: bytes, flags: UInt64(BPF_NOEXIST))
        if rc != 0 {
            throw context.fail(
                "round \(index): adding storage to a \(owner) in \(map.name): \(errnoName(rc))")
        }
    }
}
