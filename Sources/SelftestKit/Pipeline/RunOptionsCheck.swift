import Foundation

/// What this host can give a guest: the bounds of `--cpus` and `--memory`.
public struct HostLimits: Sendable, Equatable {
    /// QEMU's x86 `pc` machine (the default the runner boots) addresses at
    /// most 255 CPUs through the xAPIC; more needs x2APIC with a kernel
    /// irqchip, which TCG does not have.
    public static let qemuMaxCPUs = 255

    /// The host's RAM in MiB: QEMU cannot back a guest larger than that.
    public var memoryMiB: Int
    /// The host's online CPUs (said in the message, as a sensible size).
    public var cpus: Int

    public init(memoryMiB: Int, cpus: Int) {
        self.memoryMiB = memoryMiB
        self.cpus = cpus
    }

    public static var current: HostLimits {
        HostLimits(
            memoryMiB: Int(ProcessInfo.processInfo.physicalMemory / (1024 * 1024)),
            cpus: ProcessInfo.processInfo.activeProcessorCount)
    }
}

extension RunOptions {
    /// Refuses, before anything slow, the option values QEMU or the kernel
    /// would only reject after the programs are compiled and the image built.
    public func check(host: HostLimits = .current) throws {
        if cpus > HostLimits.qemuMaxCPUs {
            throw SelftestError(
                .usage,
                "--cpus \(cpus) is more than QEMU's x86 machine takes: at most "
                    + "\(HostLimits.qemuMaxCPUs) (the xAPIC limit; TCG has no x2APIC irqchip "
                    + "for more)",
                fix: "give --cpus \(HostLimits.qemuMaxCPUs) or fewer; this host has "
                    + "\(host.cpus) CPUs, and a few more vCPUs than that is plenty for races",
                domain: .machine, input: "--cpus \(cpus)")
        }
        if memoryMiB > host.memoryMiB {
            throw SelftestError(
                .usage,
                "--memory \(memoryMiB) (MiB) is more than this host's memory: "
                    + "\(host.memoryMiB) MiB",
                fix: "give --memory \(host.memoryMiB) or less; the suites need 1024 "
                    + "(2048 for memory --large)",
                domain: .machine, input: "--memory \(memoryMiB)")
        }
        if let shard, testProgs != nil {
            throw SelftestError(
                .usage, .options,
                "--shard splits the catalog's tests; it cannot split --test-progs",
                input: "--shard \(shard)",
                fix: "run --test-progs on one runner of its own, without --shard")
        }
        if let jobs, jobs < 0 {
            throw SelftestError(
                .usage, "--jobs \(jobs): a run boots at least one guest",
                fix: "give --jobs 1 or more, or --jobs 0: as many guests as this host's "
                    + "\(host.cpus) cores keep busy",
                domain: .machine, input: "--jobs \(jobs)")
        }
        if let vmlinux, kernel == nil, tree == nil {
            throw SelftestError(
                .usage, "--vmlinux goes with --kernel: it is that image's vmlinux",
                fix: "pass the bzImage it was built with as --kernel, or leave out --vmlinux "
                    + "(the default kernel's BTF comes from its image)",
                domain: .kernelInput, input: "--vmlinux \(vmlinux)")
        }
    }
}

/// Option values in whole seconds (`--test-timeout`): the guest agent
/// counts whole seconds, so 0.5 is refused with the reason, not rounded.
public enum WholeSeconds {
    public static func parse(_ text: String, option: String) throws -> Int {
        let input = "\(option) \(text)"
        guard let value = Int(text) else {
            throw SelftestError(
                .usage, "\(option) takes whole seconds",
                fix: Double(text).map { "give \(option) \(max(1, Int($0.rounded(.up))))" }
                    ?? "give a whole number of seconds, e.g. \(option) 30",
                domain: .options, input: input)
        }
        guard value > 0 else {
            throw SelftestError(
                .usage, "\(option) must be at least 1 second",
                fix: "give a whole number of seconds, e.g. \(option) 30", domain: .options,
                input: input)
        }
        return value
    }
}
