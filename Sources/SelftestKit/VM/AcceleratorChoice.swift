import Foundation

/// What is known about KVM on this host.
public enum KVMState: Sendable, Equatable, Codable {
    /// No /dev/kvm, or not readable and writable by this user.
    case unavailable(String)
    /// /dev/kvm exists but a guest kernel failed under it (the probe's reason).
    case broken(String)
    case works
    /// /dev/kvm is there and no probe has run on this host yet.
    case unprobed
}

/// The decision `--accel auto|kvm|tcg` leads to, and what to tell the user.
public struct AcceleratorChoice: Sendable, Equatable {
    public var accelerator: Accelerator
    /// A line for the terminal when the choice is not what was asked for.
    public var note: String?

    public enum Request: String, Sendable, CaseIterable {
        case auto, kvm, tcg
    }

    /// Pure: `auto` takes KVM only if it is known to run a guest; an
    /// unprobed KVM must be probed before calling this. `kvm` is refused
    /// up front when KVM is known not to work (no /dev/kvm, or a probe or
    /// an earlier run saw it fail); unprobed, it is tried.
    public static func decide(_ request: Request, kvm: KVMState) throws -> AcceleratorChoice {
        switch (request, kvm) {
        case (.tcg, _):
            return AcceleratorChoice(accelerator: .tcg, note: nil)
        case (.kvm, .works), (.kvm, .unprobed):
            return AcceleratorChoice(accelerator: .kvm, note: nil)
        case (.kvm, .unavailable(let why)):
            throw SelftestError(
                .environment, "--accel kvm was asked for, but KVM cannot run the guest: \(why)",
                fix: "use --accel tcg, or --accel auto (it falls back to TCG)", domain: .machine,
                input: "--accel kvm")
        case (.kvm, .broken(let why)):
            throw SelftestError(
                .environment,
                "--accel kvm was asked for, but KVM failed to run a guest on this host "
                    + "(the cached KVM probe found: \(why))",
                fix: "use --accel tcg, or --accel auto (it falls back to TCG)", domain: .machine,
                input: "--accel kvm")
        case (.auto, .works):
            return AcceleratorChoice(accelerator: .kvm, note: nil)
        case (.auto, .unavailable(let why)), (.auto, .broken(let why)):
            return AcceleratorChoice(
                accelerator: .tcg, note: "KVM cannot run the guest (\(why)); using TCG")
        case (.auto, .unprobed):
            return AcceleratorChoice(accelerator: .tcg, note: "KVM was not probed; using TCG")
        }
    }
}

/// Finds out whether KVM really runs a guest kernel here: boots the kernel
/// under test with no initramfs, so it panics at once and QEMU exits; a
/// "KVM internal error", or no exit in time, means it does not. The verdict
/// is cached per host kernel, QEMU and CPU, so only the first run pays.
public struct KVMProbe: Sendable {
    public var qemu: String
    public var cache: Cache
    public var timeout: Double = 20
    /// Remembers QEMU's `--version` for this very binary: asking costs a
    /// process (35-60 ms) that every run waited on before its guest booted.
    public var digests: FileDigests?

    public init(qemu: String, cache: Cache, timeout: Double = 20, digests: FileDigests? = nil) {
        self.qemu = qemu
        self.cache = cache
        self.timeout = timeout
        self.digests = digests
    }

    public func state(kernel: String, runner: CommandRunning = SystemRunner()) -> KVMState {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            return .unavailable("/dev/kvm is missing or not accessible")
        }
        let key = hostKey(runner: runner)
        if let saved = saved(key: key) { return saved }
        let result = probe(kernel: kernel)
        record(result, key: key)
        return result
    }

    /// What an earlier probe (or run) found out on this host, without
    /// probing: `.unprobed` when nothing is known yet.
    public func known(runner: CommandRunning = SystemRunner()) -> KVMState {
        guard access("/dev/kvm", R_OK | W_OK) == 0 else {
            return .unavailable("/dev/kvm is missing or not accessible")
        }
        return saved(key: hostKey(runner: runner)) ?? .unprobed
    }

    /// Keeps what a run found out (KVM failed to run its guest), so that
    /// the next `--accel auto` does not try it again.
    public func record(_ state: KVMState, runner: CommandRunning = SystemRunner()) {
        record(state, key: hostKey(runner: runner))
    }

    private func saved(key: String) -> KVMState? {
        let entry = cache.entry("kvm-probe", key + ".json")
        guard let data = FileManager.default.contents(atPath: entry.path) else { return nil }
        return try? DocumentJSON.decode(KVMState.self, from: data)
    }

    private func record(_ state: KVMState, key: String) {
        let entry = cache.entry("kvm-probe", key + ".json")
        if let data = try? DocumentJSON.data(state) { try? Cache.write(data, to: entry) }
    }

    func hostKey(runner: CommandRunning) -> String {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: u.release) {
            String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
        }
        let ask = { (try? runner.run(Command(qemu, ["--version"]), timeout: 30).stdoutText) ?? "" }
        let version = (try? digests?.remembered("qemu --version", of: qemu, ask)) ?? ask()
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }.map(String.init) ?? ""
        return SHA256.hex(release + version + cpu)
    }

    func probe(kernel: String) -> KVMState {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "selftests-kvm-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let console = dir.appendingPathComponent("console").path
        let stderr = dir.appendingPathComponent("stderr").path
        let args = [
            "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-no-reboot",
            "-display", "none", "-serial", "file:\(console)", "-kernel", kernel,
            "-append", "console=ttyS0 panic=-1",
        ]
        guard let child = try? ChildProcess.spawn(Command(qemu, args), stderr: stderr) else {
            return .broken("qemu did not start")
        }
        defer { child.kill() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let errors = (try? String(contentsOfFile: stderr, encoding: .utf8)) ?? ""
            if let line = errors.split(separator: "\n").first(where: {
                $0.contains("KVM internal error")
            }) {
                return .broken(String(line))
            }
            if let status = child.poll() {
                let booted = ((try? String(contentsOfFile: console, encoding: .utf8)) ?? "")
                    .contains("Linux version")
                if booted { return .works }
                let reason = errors.split(separator: "\n").last.map(String.init) ?? "exit \(status)"
                return .broken(reason)
            }
            usleep(50_000)
        }
        return .broken("the probe guest did not finish within \(Int(timeout)) s")
    }
}
