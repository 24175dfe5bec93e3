import Glibc

/// Tests that prove the runner, not the kernel: each produces one outcome
/// on purpose. They run only when a filter names `fixture/...`.
enum FixtureTests {
    static let bodies: [String: TestBody] = [
        "fixture/pass": { context in context.log("nothing to see") },
        "fixture/fail": { context in
            try context.expectEqual(1 + 1, 3, "fixture arithmetic")
        },
        "fixture/skip": { context in throw context.skip("the fixture always skips") },
        "fixture/hang": { _ in
            while true { pause() }
        },
        "fixture/hang_guest": { _ in
            // The agent stops itself, so nothing in the guest can report the
            // timeout: only the host's watchdog can.
            kill(getpid(), SIGSTOP)
        },
        "fixture/warn": { context in
            // The shape of a real WARN_ON report, at KERN_WARNING.
            let lines = [
                "------------[ cut here ]------------",
                "WARNING: CPU: 0 PID: \(getpid()) at kernel/bpf/fixture.c:1 fixture_warn+0x0/0x10",
                "Modules linked in:",
                "---[ end trace 0000000000000000 ]---",
            ]
            let kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
            defer { close(kmsg) }
            for line in lines { FD.writeAll(kmsg, "<4>\(line)\n") }
            context.log("wrote a WARN-shaped record to /dev/kmsg")
        },
        "fixture/crash": { context in
            FD.writeFile("/proc/sys/kernel/sysrq", "1")
            FD.writeFile("/proc/sysrq-trigger", "c")
            throw context.fail("the kernel survived sysrq-c")
        },
    ]
}
