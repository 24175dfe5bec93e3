import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Whatever ends the runner, its children end with it: QEMU, and the guard
/// that watches them. Each test records, while QEMU runs, every process
/// the runner started (its descendants in /proc), ends the runner, and
/// checks by those PIDs that none outlives it.
extension VirtualMachineSuites {
    @Suite(.tags(.vm)) struct ProcessLifetimeTests {
        /// SIGKILL cannot be handled: the orphan guard takes QEMU down.
        /// SIGHUP and SIGTERM are handled like Ctrl-C.
        @Test(arguments: [SIGKILL, SIGHUP, SIGTERM])
        func endingTheRunnerEndsEveryChild(signal: Int32) throws {
            let dir = try scratch("lifetime")
            defer { try? FileManager.default.removeItem(at: dir) }
            let runner = try ChildProcess.spawn(
                Command(CommandLineTests.binary, ["run", "--filter", "fixture/hang_guest"]),
                stdout: dir.appendingPathComponent("out").path,
                stderr: dir.appendingPathComponent("err").path)
            defer { runner.kill() }
            let children = try awaitQEMU(under: runner.pid, running: { runner.poll() == nil })
            kill(runner.pid, signal)
            let status = runner.wait(timeout: 60)
            #expect(status == (signal == SIGKILL ? 128 + SIGKILL : 130))
            let left = awaitGone(children, timeout: 20)
            #expect(left.isEmpty, "outlived the runner: \(left.map(\.description))")
        }

        /// `selftests run | head -1`: once `head` has its line, the next
        /// line the runner prints meets a closed pipe, and the run ends
        /// there, taking its hung guest with it.
        @Test func aClosedOutputPipeEndsTheRunAndItsGuest() throws {
            let dir = try scratch("pipe")
            defer { try? FileManager.default.removeItem(at: dir) }
            let line = "'\(CommandLineTests.binary)' run --filter 'fixture/pass,fixture/hang_guest'"
            let shell = try ChildProcess.spawn(
                Command("/bin/bash", ["-c", "\(line) | head -1; exit ${PIPESTATUS[0]}"]),
                stdout: dir.appendingPathComponent("out").path,
                stderr: dir.appendingPathComponent("err").path)
            defer { shell.kill() }
            let children = try awaitQEMU(under: shell.pid, running: { shell.poll() == nil })
            let status = shell.wait(timeout: 120)
            let stderr = try String(contentsOf: dir.appendingPathComponent("err"), encoding: .utf8)
            #expect(status == 130, "\(stderr)")
            #expect(stderr.contains("its output was closed"))
            let left = awaitGone(children, timeout: 20)
            #expect(left.isEmpty, "outlived the runner: \(left.map(\.description))")
        }

        /// Ctrl-C once a test has finished: the JUnit and JSON hold it with
        /// its verdict, and the tests that did not finish as `not-run`.
        @Test func anInterruptWritesTheReportsOfWhatFinished() throws {
            let dir = try scratch("partial")
            defer { try? FileManager.default.removeItem(at: dir) }
            let json = dir.appendingPathComponent("report.json")
            let junit = dir.appendingPathComponent("report.xml")
            let out = dir.appendingPathComponent("out")
            let runner = try ChildProcess.spawn(
                Command(
                    CommandLineTests.binary,
                    [
                        "run", "--filter", "fixture/pass,fixture/hang_guest", "--json", json.path,
                        "--junit", junit.path,
                    ]), stdout: out.path, stderr: dir.appendingPathComponent("err").path)
            defer { runner.kill() }
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, runner.poll() == nil,
                !((try? String(contentsOf: out, encoding: .utf8)) ?? "").contains("fixture/pass")
            {
                usleep(50_000)
            }
            kill(runner.pid, SIGINT)
            #expect(runner.wait(timeout: 30) == 130)
            let report = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: json))
            #expect(report.interruption == "SIGINT")
            #expect(report.records.map(\.name) == ["fixture/pass", "fixture/hang_guest"])
            #expect(report.records.map(\.outcome) == [.pass, .notRun])
            let xml = try String(contentsOf: junit, encoding: .utf8)
            #expect(xml.contains(#"name="hang_guest">"#))
            #expect(xml.contains(#"type="not-run""#))
        }

        /// Ctrl-C while the kernel's BTF is being extracted (into a scratch
        /// directory under the cache) and programs compiled: the interrupt
        /// exits without unwinding, and still no scratch is left.
        @Test func anInterruptLeavesNoScratchInTheCache() throws {
            let dir = try scratch("interrupt-scratch")
            defer { try? FileManager.default.removeItem(at: dir) }
            let cache = dir.appendingPathComponent("cache")
            let kernel = try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot()))
            let runner = try ChildProcess.spawn(
                Command(
                    CommandLineTests.binary,
                    ["run", "--kernel", kernel.path, "--cache-dir", cache.path]),
                stdout: dir.appendingPathComponent("out").path,
                stderr: dir.appendingPathComponent("err").path)
            defer { runner.kill() }
            let tmp = cache.appendingPathComponent("tmp")
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, runner.poll() == nil,
                ((try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []).isEmpty
            {
                usleep(5_000)
            }
            kill(runner.pid, SIGINT)
            #expect(runner.wait(timeout: 30) == 130)
            let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? []
            #expect(left.isEmpty, "left in tmp: \(left)")
            let temps =
                FileManager.default.enumerator(atPath: cache.path)?
                .compactMap { $0 as? String }.filter { $0.contains(".tmp-") } ?? []
            #expect(temps.isEmpty, "half-written entries: \(temps)")
        }

        private func scratch(_ name: String) throws -> URL {
            let dir = FileManager.default.temporaryDirectory
                .appendingPathComponent("\(name)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return dir
        }

        /// Waits (up to two minutes) until a QEMU runs below `root`, and
        /// returns every process below it then.
        private func awaitQEMU(under root: pid_t, running: () -> Bool) throws -> [LiveProcess] {
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, running() {
                let below = LiveProcess.descendants(of: root)
                if below.contains(where: { $0.command.contains("qemu-system") }) { return below }
                usleep(100_000)
            }
            throw TestFailure("no QEMU started below \(root) within two minutes")
        }

        /// The processes of `recorded` still running after `timeout` seconds.
        private func awaitGone(_ recorded: [LiveProcess], timeout: Double) -> [LiveProcess] {
            let deadline = Date().addingTimeInterval(timeout)
            var left = recorded.filter(\.isRunning)
            while !left.isEmpty, Date() < deadline {
                usleep(100_000)
                left = left.filter(\.isRunning)
            }
            return left
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A process as /proc shows it, with its start time so that a PID the
/// kernel hands out again is not mistaken for the one recorded.
struct LiveProcess: CustomStringConvertible {
    var pid: pid_t
    var parent: pid_t
    var startTime: String
    var command: String

    var description: String { "\(pid) \(command)" }

    /// Running, and still the same process: not a zombie, same start time.
    var isRunning: Bool {
        guard let now = Self.read(pid) else { return false }
        return now.startTime == startTime
    }

    static func descendants(of root: pid_t) -> [LiveProcess] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let all = entries.compactMap { pid_t($0) }.compactMap(read)
        var found: [LiveProcess] = []
        var parents: Set<pid_t> = [root]
        while true {
            let next = all.filter {
                parents.contains($0.parent) && !found.map(\.pid).contains($0.pid)
            }
            if next.isEmpty { return found }
            found += next
            parents.formUnion(next.map(\.pid))
        }
    }

    /// Nil for a process that is gone or a zombie.
    static func read(_ pid: pid_t) -> LiveProcess? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state ppid pgrp session tty tpgid flags minflt
        // cminflt majflt cmajflt utime stime cutime cstime priority nice
        // threads itrealvalue starttime.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", let parent = pid_t(fields[1]) else {
            return nil
        }
        let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
        let command = String(decoding: cmdline, as: UTF8.self)
            .replacingOccurrences(of: "\0", with: " ")
        return LiveProcess(
            pid: pid, parent: parent, startTime: String(fields[19]), command: command)
    }
}
