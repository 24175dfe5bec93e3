import Glibc
import SelftestCatalog

/// Thrown by a test body to end it with a verdict other than pass.
public enum TestStop: Error {
    case fail(String)
    case skip(String)
}

/// What a running test body can do: find its BPF object, log, assert, skip.
///
/// Bodies run in a child process forked per test, so a crash or leak in one
/// test does not reach the next. Diagnostics go to the parent through `out`.
public struct TestContext {
    public let name: String
    let out: Int32
    let progsDirectory: String

    init(name: String, out: Int32, progsDirectory: String) {
        self.name = name
        self.out = out
        self.progsDirectory = progsDirectory
    }

    /// The path of a compiled program in the image: `/progs/NAME.bpf.o`.
    public func objectPath(_ object: String) -> String {
        "\(progsDirectory)/\(object).bpf.o"
    }

    /// A diagnostic line that ends up in KTAP (`# ...`) and in the report.
    public func log(_ message: String) {
        for line in message.split(separator: "\n", omittingEmptySubsequences: false) {
            ChildChannel.send(fd: out, .diagnostic(String(line)))
        }
    }

    public func fail(_ message: String) -> TestStop { .fail(message) }

    /// Fails the test with `message` unless `condition` holds.
    public func expect(
        _ condition: Bool, _ message: @autoclosure () -> String, line: UInt = #line
    ) throws {
        if !condition { throw TestStop.fail("\(message()) (line \(line))") }
    }

    /// Fails with both values shown unless they are equal.
    public func expectEqual<T: Equatable>(
        _ actual: T, _ expected: T, _ what: @autoclosure () -> String, line: UInt = #line
    ) throws {
        if actual != expected {
            throw TestStop.fail("\(what()): expected \(expected), got \(actual) (line \(line))")
        }
    }

    public func skip(_ reason: String) -> TestStop { .skip(reason) }

    /// Runs one case of a parametrised test; its verdict is reported as a
    /// KTAP subtest. A failing case fails the test but not the other cases.
    public func runCase(_ caseName: String, _ body: () throws -> Void) {
        let name = caseName.replacingOccurrences(of: " ", with: "_")
        do {
            try body()
            ChildChannel.send(fd: out, .caseVerdict(.pass, name: name, message: ""))
        } catch TestStop.skip(let reason) {
            ChildChannel.send(fd: out, .caseVerdict(.skip, name: name, message: reason))
        } catch TestStop.fail(let message) {
            ChildChannel.send(fd: out, .caseVerdict(.fail, name: name, message: message))
        } catch {
            ChildChannel.send(fd: out, .caseVerdict(.fail, name: name, message: "\(error)"))
        }
    }

    /// Polls `condition` every `intervalMs` until it holds or `seconds` pass.
    /// Returns whether it held: the caller decides what a miss means.
    public func waitUntil(
        seconds: Double, intervalMs: Int = 20, _ condition: () throws -> Bool
    ) rethrows -> Bool {
        let deadline = Clock.now() + seconds
        while true {
            if try condition() { return true }
            if Clock.now() >= deadline { return false }
            Clock.sleep(milliseconds: intervalMs)
        }
    }
}

/// Monotonic time and sleeping, without Foundation (the guest image carries
/// only the Swift runtime and libc).
public enum Clock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func sleep(milliseconds: Int) {
        var request = timespec(
            tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}

/// The pipe from a test's child process to the agent.
enum ChildChannel {
    static func send(fd: Int32, _ message: ChildMessage) {
        FD.writeAll(fd, message.line)
    }
}

extension String {
    func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }

}

/// Small helpers over raw file descriptors.
public enum FD {
    /// Reads `fd` until end of file or until `deadline` (a `Clock.now()`
    /// time), passing each chunk to `body`; true when the deadline came first.
    static func drain(_ fd: Int32, until deadline: Double, _ body: ([UInt8]) -> Void) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let remaining = deadline - Clock.now()
            if remaining <= 0 { return true }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(remaining, 1.0) * 1000) + 1)
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            body(Array(chunk[0..<n]))
        }
    }

    public static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buf in
                write(fd, buf.baseAddress! + offset, buf.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }

    /// Reads a whole small file (procfs, sysfs); nil when it cannot be opened.
    public static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Writes `text` to an existing file (procfs, sysfs, cgroupfs).
    @discardableResult
    public static func writeFile(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}

/// The text of an errno value: `ENOENT (No such file or directory)`.
public func errnoName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EBADF: "EBADF", EAGAIN: "EAGAIN",
        ENOMEM: "ENOMEM", EACCES: "EACCES", EBUSY: "EBUSY", EEXIST: "EEXIST", EINVAL: "EINVAL",
        ENOSPC: "ENOSPC", E2BIG: "E2BIG", ENOTSUP: "EOPNOTSUPP", ENOTSOCK: "ENOTSOCK",
        ESRCH: "ESRCH", EFAULT: "EFAULT", ENOTDIR: "ENOTDIR",
    ]
    let text = String(cString: strerror(code))
    return "\(names[code] ?? "errno \(code)") (\(text))"
}
