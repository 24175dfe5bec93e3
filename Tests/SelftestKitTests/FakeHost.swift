import Foundation
import SelftestCatalog
import Synchronization

@testable import SelftestKit

/// A new, empty directory `PREFIX-UUID` under the temporary directory;
/// the test removes it when done.
func scratchDirectory(_ prefix: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
        "\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

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
        try Data(boot.console.utf8).write(
            to: URL(fileURLWithPath: try chardevPath("console", in: arguments)))
        try Data(boot.ktap.utf8).write(
            to: URL(fileURLWithPath: try chardevPath("results", in: arguments)))
        return FakeProcess(exited: boot.exits)
    }
}

/// The path of `-chardev BACKEND,id=ID,path=P` in a QEMU command (QEMU
/// doubles a literal comma).
func chardevPath(_ id: String, backend: String = "file", in arguments: [String]) throws -> String {
    let prefix = "\(backend),id=\(id),path="
    guard let value = arguments.first(where: { $0.hasPrefix(prefix) }) else {
        throw SelftestError(.infrastructure, "no -chardev \(id) in the QEMU command")
    }
    return String(value.dropFirst(prefix.count)).replacingOccurrences(of: ",,", with: ",")
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

/// Stands in for QEMU running the guest agent in queue mode (`--jobs`): at
/// each poll, as a guest runs one test per slice of time, it takes the next
/// line the host wrote to the boot's queue port (`-chardev pipe`, `P.in`)
/// and appends that test's lines from a real queue-mode capture to the
/// results file, numbered anew; at `end` it writes the plan and the done
/// line and, one poll later, exits as QEMU does at power-off. A test in
/// `crashes` gets its start line and a real panic console instead, and the
/// guest exits at the next poll, as QEMU does at a panic with -no-reboot.
final class FakeQueueQemu: ProcessSpawning {
    /// Each test's lines in a capture: its start comment through its
    /// top-level result.
    let chunks: [String: [String]]
    let crashes: Set<String>
    let crashConsole: String
    let bootConsole: String
    /// The tests each boot was handed, by boot in the order they started.
    let handed = Mutex<[[String]]>([])

    init(
        captures: [String], bootConsole: String, crashes: Set<String> = [],
        crashConsole: String = ""
    ) {
        var chunks: [String: [String]] = [:]
        for capture in captures {
            var current: (name: String, lines: [String])?
            for line in capture.split(separator: "\n", omittingEmptySubsequences: false) {
                if let name = line.wholeMatch(of: /# start (.+)/)?.1 {
                    current = (String(name), [String(line)])
                } else if var test = current {
                    test.lines.append(String(line))
                    current = test
                    if line.hasPrefix("ok ") || line.hasPrefix("not ok ") {
                        chunks[test.name] = test.lines
                        current = nil
                    }
                }
            }
        }
        self.chunks = chunks
        self.bootConsole = bootConsole
        self.crashes = crashes
        self.crashConsole = crashConsole
    }

    func spawn(
        _ command: Command, stdin: String?, stdout: String?, stderr: String?
    ) throws -> any RunningProcess {
        let boot = handed.withLock {
            $0.append([])
            return $0.count - 1
        }
        return Guest(
            owner: self, boot: boot, results: try chardevPath("results", in: command.arguments),
            console: try chardevPath("console", in: command.arguments),
            queue: try chardevPath("queue", backend: "pipe", in: command.arguments) + ".in")
    }

    final class Guest: RunningProcess {
        private struct State {
            var fd: Int32 = -1
            var buffer = ""
            var number = 0
            var exit: Int32?
            var exitsNext = false
        }
        private let owner: FakeQueueQemu
        private let boot: Int
        private let results: String
        private let console: String
        private let state = Mutex(State())

        init(owner: FakeQueueQemu, boot: Int, results: String, console: String, queue: String) {
            self.owner = owner
            self.boot = boot
            self.results = results
            self.console = console
            let fd = open(queue, O_RDONLY | O_NONBLOCK)
            append(results, "KTAP version 1\n# selftests: queue\n")
            append(console, owner.bootConsole)
            state.withLock { $0.fd = fd }
        }

        func poll() -> Int32? {
            state.withLock { state in
                if let exit = state.exit { return exit }
                if state.exitsNext {
                    state.exit = 0
                    return 0
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { read(state.fd, $0.baseAddress, $0.count) }
                if n > 0 { state.buffer += String(decoding: chunk[..<n], as: UTF8.self) }
                guard let newline = state.buffer.firstIndex(of: "\n") else { return nil }
                let line = String(state.buffer[..<newline])
                state.buffer.removeSubrange(...newline)
                if line == QueuePort.end {
                    append(results, "1..\(state.number)\n# selftests: done\n")
                    state.exitsNext = true
                    return nil
                }
                guard let test = PlannedTest(line: line[...]) else { return nil }
                owner.handed.withLock { $0[boot].append(test.name) }
                state.number += 1
                if owner.crashes.contains(test.name) {
                    append(results, ResultsComment.start(test.name))
                    append(console, owner.crashConsole)
                    state.exitsNext = true
                    return nil
                }
                let lines =
                    owner.chunks[test.name] ?? ["# start \(test.name)", "not ok 0 \(test.name)"]
                let renumbered = lines.map { line in
                    line.replacing(#/^(ok|not ok) \d+ /#, with: { "\($0.1) \(state.number) " })
                }
                append(results, renumbered.joined(separator: "\n") + "\n")
                return nil
            }
        }

        func wait(timeout: Double) -> Int32? { poll() }

        func kill(grace: Double) {
            state.withLock { state in
                state.exit = state.exit ?? 143
                if state.fd >= 0 { close(state.fd) }
                state.fd = -1
            }
        }

        private func append(_ path: String, _ text: String) {
            guard let handle = FileHandle(forWritingAtPath: path) else {
                FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
                return
            }
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
    }
}
