import Foundation

/// Which QEMU accelerator runs the guest.
public enum Accelerator: String, Sendable, Codable {
    case kvm, tcg
}

/// Everything that decides one QEMU invocation; `arguments` is pure so
/// tests can check it without starting anything.
public struct QemuConfiguration: Sendable, Equatable {
    public var kernel: String
    public var initrd: String
    public var accelerator: Accelerator
    public var memoryMiB: Int = 1024
    public var cpus: Int = 2
    public var consoleLog: String
    public var resultsFile: String
    /// Kernel command-line words after the runner's own.
    public var extraAppend: [String] = []

    public init(
        kernel: String, initrd: String, accelerator: Accelerator, consoleLog: String,
        resultsFile: String, memoryMiB: Int = 1024, cpus: Int = 2, extraAppend: [String] = []
    ) {
        self.kernel = kernel
        self.initrd = initrd
        self.accelerator = accelerator
        self.consoleLog = consoleLog
        self.resultsFile = resultsFile
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.extraAppend = extraAppend
    }

    /// Console on the first serial port; reboot at once on panic (which
    /// `-no-reboot` turns into QEMU exiting); and `/dev/kmsg` not rate-limited,
    /// or the agent's start/end markers get dropped after a few tests and
    /// splats can no longer be pinned on the test that caused them.
    static let baseAppend = ["console=ttyS0", "panic=-1", "printk.time=1", "printk.devkmsg=on"]

    public var append: String {
        (Self.baseAppend + extraAppend).joined(separator: " ")
    }

    public var arguments: [String] {
        var args = ["-accel", accelerator.rawValue]
        if accelerator == .kvm { args += ["-cpu", "host"] }
        args += [
            "-m", "\(memoryMiB)", "-smp", "\(cpus)",
            "-nodefaults", "-no-reboot", "-display", "none", "-no-user-config",
            "-chardev", "file,id=console,path=\(Self.escape(consoleLog))",
            "-serial", "chardev:console",
            "-device", "virtio-serial-pci",
            "-chardev", "file,id=results,path=\(Self.escape(resultsFile))",
            "-device", "virtserialport,chardev=results,name=selftests.results",
            "-kernel", kernel, "-initrd", initrd, "-append", append,
        ]
        return args
    }

    /// QEMU option values are comma-separated; a literal comma is doubled.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: ",", with: ",,")
    }
}
