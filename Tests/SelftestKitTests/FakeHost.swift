import Foundation
import Synchronization

@testable import SelftestKit

/// A clock that moves only when the code under test sleeps: bounds of
/// seconds pass in microseconds, the same way every time.
final class FakeClock: HostClock {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))

    func now() -> Date { time.withLock { $0 } }
    func sleep(_ seconds: Double) { time.withLock { $0 += seconds } }
}

/// A child that has ended with `status`, or, with nil, runs until killed.
final class FakeProcess: RunningProcess {
    private let status: Mutex<Int32?>
    init(exited status: Int32?) { self.status = Mutex(status) }

    func poll() -> Int32? { status.withLock { $0 } }
    func wait(timeout: Double) -> Int32? { poll() }
    /// As SIGTERM would: 128 + 15.
    func kill(grace: Double) { status.withLock { $0 = $0 ?? 143 } }
}

/// Stands in for QEMU: each boot writes a real captured console and KTAP
/// pair into the files its command line names, as the guest would have,
/// and ends as that guest did (QEMU exits at power-off or panic) or, with
/// `exits: nil`, stays up, stuck, until killed.
final class FakeQemu: ProcessSpawning {
    struct Boot {
        var ktap: String
        var console: String
        var exits: Int32? = 0
    }

    private let boots: Mutex<[Boot]>
    /// Each boot's command line and the initrd it was given.
    let started = Mutex<[(command: Command, initrd: Data)]>([])

    init(_ boots: [Boot]) { self.boots = Mutex(boots) }

    func spawn(
        _ command: Command, stdin: String?, stdout: String?, stderr: String?
    ) throws -> any RunningProcess {
        guard let boot = boots.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
            throw SelftestError(.infrastructure, "the fake QEMU has no boot left")
        }
        let arguments = command.arguments
        let initrd = arguments.firstIndex(of: "-initrd").map { arguments[$0 + 1] } ?? ""
        started.withLock {
            $0.append((command, FileManager.default.contents(atPath: initrd) ?? Data()))
        }
        try Data(boot.console.utf8).write(to: URL(fileURLWithPath: try path("console", arguments)))
        try Data(boot.ktap.utf8).write(to: URL(fileURLWithPath: try path("results", arguments)))
        return FakeProcess(exited: boot.exits)
    }

    /// The file of `-chardev file,id=ID,path=P` (QEMU doubles a literal comma).
    private func path(_ id: String, _ arguments: [String]) throws -> String {
        let prefix = "file,id=\(id),path="
        guard let value = arguments.first(where: { $0.hasPrefix(prefix) }) else {
            throw SelftestError(.infrastructure, "no -chardev \(id) in the QEMU command")
        }
        return String(value.dropFirst(prefix.count)).replacingOccurrences(of: ",,", with: ",")
    }
}

/// Stands in for `make bzImage`: writes a real captured build log where the
/// build's output goes (the captured tree and `O=` paths rewritten to this
/// build's), leaves `products` under `O=` as a successful build would, and
/// exits with `status`.
final class FakeMake: ProcessSpawning {
    struct Capture {
        var log: String
        /// The tree and `O=` directory the log was captured in.
        var tree: String
        var output: String
    }

    let capture: Capture
    let status: Int32
    let products: [String: String]
    let commands = Mutex<[Command]>([])

    init(_ capture: Capture, status: Int32, products: [String: String] = [:]) {
        self.capture = capture
        self.status = status
        self.products = products
    }

    func spawn(
        _ command: Command, stdin: String?, stdout: String?, stderr: String?
    ) throws -> any RunningProcess {
        commands.withLock { $0.append(command) }
        let arguments = command.arguments
        let tree = arguments.firstIndex(of: "-C").map { arguments[$0 + 1] } ?? capture.tree
        let output =
            arguments.first { $0.hasPrefix("O=") }.map { String($0.dropFirst(2)) }
            ?? capture.output
        let log = capture.log.replacingOccurrences(of: capture.output, with: output)
            .replacingOccurrences(of: capture.tree, with: tree)
        if let stdout { try Data(log.utf8).write(to: URL(fileURLWithPath: stdout)) }
        for (path, contents) in products {
            let url = URL(fileURLWithPath: output).appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
        return FakeProcess(exited: status)
    }
}

/// Runs no command; for a host context whose short commands must not run.
struct NoCommands: CommandRunning {
    func run(_ command: Command, stdin: Data?, timeout: Double) throws -> CommandResult {
        throw SelftestError(.infrastructure, "unexpected command: \(command)")
    }
}
