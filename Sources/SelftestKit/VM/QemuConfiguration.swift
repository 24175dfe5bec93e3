import Foundation
import SelftestCatalog

/// Which QEMU accelerator runs the guest.
public enum Accelerator: String, Sendable, Codable {
    case kvm, tcg
}

/// How TCG runs the guest's vCPUs: all on one host thread (`single`, the
/// default) or one thread each (`multi`).
///
/// Under a busy host, multi-threaded TCG (QEMU 7.2) crashed guests at random:
/// int3 oopses in sched_clock_cpu and get_random_u32 and a double fault in
/// the allocator, all code the kernel patches at run time. Single-threaded
/// TCG has no cross-vCPU races in its translated code, and measured here it
/// ran the hash, storage and memory suites as well and no slower (36 s vs
/// 42 s for hash + storage under load); the vCPUs still interleave, so the
/// concurrency tests still see both CPUs at work.
public enum TCGThreading: String, Sendable, Codable, CaseIterable {
    case single, multi
}

/// Everything that decides one QEMU invocation; `arguments` is pure so
/// tests can check it without starting anything.
public struct QemuConfiguration: Sendable, Equatable {
    public var kernel: URL
    public var initrd: URL
    public var accelerator: Accelerator
    public var memoryMiB: Int = 1024
    public var cpus: Int = 2
    public var tcgThreading: TCGThreading = .single
    public var consoleLog: URL
    public var resultsFile: URL
    /// The queue port's FIFOs (`P.in`, which QEMU reads, and `P.out`), when
    /// the guest takes its tests from a queue shared with other guests.
    public var queuePipe: URL?

    public init(
        kernel: URL, initrd: URL, accelerator: Accelerator, consoleLog: URL,
        resultsFile: URL, memoryMiB: Int = 1024, cpus: Int = 2,
        tcgThreading: TCGThreading = .single, queuePipe: URL? = nil
    ) {
        self.kernel = kernel
        self.initrd = initrd
        self.accelerator = accelerator
        self.consoleLog = consoleLog
        self.resultsFile = resultsFile
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.tcgThreading = tcgThreading
        self.queuePipe = queuePipe
    }

    /// Console on the first serial port; reboot at once on panic (which
    /// `-no-reboot` turns into QEMU exiting); and `/dev/kmsg` not rate-limited,
    /// or the agent's start/end markers get dropped after a few tests and
    /// splats can no longer be pinned on the test that caused them.
    static let baseAppend = ["console=ttyS0", "panic=-1", "printk.time=1", "printk.devkmsg=on"]

    public var append: String {
        Self.baseAppend.joined(separator: " ")
    }

    public var arguments: [String] {
        var args: [String]
        switch accelerator {
        case .kvm: args = ["-accel", "kvm", "-cpu", "host"]
        case .tcg:
            // QEMU's default model plus RDRAND: the kernel then seeds its
            // CRNG at boot (random.trust_cpu). Without it the agent's first
            // getrandom (the Swift runtime's hashing seed) blocked until
            // jitter entropy was gathered, 2.5-3 s of every TCG boot.
            args = ["-accel", "tcg,thread=\(tcgThreading.rawValue)", "-cpu", "qemu64,+rdrand"]
        }
        args += [
            "-m", "\(memoryMiB)", "-smp", "\(cpus)",
            "-nodefaults", "-no-reboot", "-display", "none", "-no-user-config",
            "-chardev", "file,id=console,path=\(Self.escape(consoleLog.path))",
            "-serial", "chardev:console",
            "-device", "virtio-serial-pci",
            "-chardev", "file,id=results,path=\(Self.escape(resultsFile.path))",
            "-device", "virtserialport,chardev=results,name=selftests.results",
        ]
        if let queuePipe {
            // QEMU opens both FIFOs read-write, so neither side blocks on open.
            args += [
                "-chardev", "pipe,id=queue,path=\(Self.escape(queuePipe.path))",
                "-device", "virtserialport,chardev=queue,name=\(QueuePort.name)",
            ]
        }
        args += [
            "-kernel", kernel.path, "-initrd", initrd.path, "-append", append,
        ]
        return args
    }

    /// QEMU option values are comma-separated; a literal comma is doubled.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }
}
