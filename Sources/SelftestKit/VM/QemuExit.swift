import Glibc

/// How QEMU ended, in words a user can act on.
enum QemuExit {
    /// `exited with status 1`, or `was killed by SIGKILL (signal 9)` for the
    /// 128+signal status `ChildProcess` reports for a process a signal ended
    /// (QEMU's own exit statuses stay far below 128).
    static func describe(_ status: Int32) -> String {
        guard status > 128, status < 128 + 65 else { return "exited with status \(status)" }
        let signal = status - 128
        let name = signalName(signal).map { "\($0) (signal \(signal))" } ?? "signal \(signal)"
        return "was killed by \(name)"
    }

    /// `SIGKILL` for 9; nil for a signal without a well-known name.
    static func signalName(_ signal: Int32) -> String? {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
            SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
            SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
            SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGXCPU: "SIGXCPU",
        ]
        return names[signal]
    }

    /// The `KVM internal error` line of QEMU's stderr: KVM could not run
    /// the guest, and QEMU stopped it and waits, so only its stderr tells.
    static func kvmInternalError(in stderr: String) -> String? {
        stderr.split(whereSeparator: \.isNewline).first { $0.contains("KVM internal error") }
            .map(String.init)
    }

    /// Why a QEMU that exited under KVM could not run the guest: the
    /// internal error, or the first stderr line about KVM (a failed
    /// assertion in QEMU's KVM code, a KVM that would not initialise).
    static func kvmFailure(in stderr: String) -> String? {
        kvmInternalError(in: stderr)
            ?? stderr.split(whereSeparator: \.isNewline).first { $0.lowercased().contains("kvm") }
            .map(String.init)
    }
}
