import Glibc
import SelftestCatalog

/// Runs one planned entry of the tree's own `test_progs` (`test_progs/<test>`)
/// and passes what it prints to the host line by line, as KTAP diagnostics:
/// `# tp| <line>` for each line, `# tp-end: exit N` (or `signal N`, `killed S`,
/// `not-started WHY`) when it ends. The host parses those lines into the
/// test's records; the agent only bounds the process and reports its end.
enum TestProgsRunner {
    /// Where the image puts test_progs and the files it reads at run time.
    static let directory = "/test_progs"
    /// coreutils' `libstdbuf.so`, which the image carries for test_progs.
    static let lineBuffering = "/lib/libstdbuf.so"

    /// Runs the entry, relaying its lines as they come; returns the KTAP
    /// that closes it (its end, duration and result line), which the agent
    /// writes after the test's end marker.
    static func run(_ test: PlannedTest, number: Int, out: Int32) -> String {
        let start = Clock.now()
        let end = execute(test, out: out)
        let seconds = Clock.now() - start
        // The host decides the verdict from the lines; `ok`/`not ok` is for a
        // reader of the raw KTAP.
        let result = end == "exit 0" ? "ok" : "not ok"
        return "# \(ResultsComment.testProgsEnd)\(end)\n# duration_ms: \(Int(seconds * 1000))\n"
            + "\(result) \(number) \(test.name)\n"
    }

    /// Runs test_progs with the entry's arguments in its directory, relaying
    /// its output; returns how it ended, in the `tp-end:` form.
    private static func execute(_ test: PlannedTest, out: Int32) -> String {
        let binary = "\(directory)/test_progs"
        guard access(binary, X_OK) == 0 else {
            return "not-started the guest image has no \(binary)"
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return "not-started pipe: \(errnoName(errno))" }
        let argv = [binary] + test.arguments
        let pid = fork()
        if pid == 0 {
            // Its own process group, so a timeout kills what it started too.
            setpgid(0, 0)
            close(fds[0])
            dup2(fds[1], 1)
            dup2(fds[1], 2)
            close(fds[1])
            if chdir(directory) != 0 { _exit(126) }
            // Into a pipe, test_progs' stdio buffers whole blocks: a test
            // killed at its bound would take every line it printed with it.
            // coreutils' stdbuf preload makes its output line-buffered.
            if access(lineBuffering, R_OK) == 0 {
                setenv("LD_PRELOAD", lineBuffering, 1)
                setenv("_STDBUF_O", "L", 1)
                setenv("_STDBUF_E", "L", 1)
            }
            var cArgs = argv.map { strdup($0) }
            cArgs.append(nil)
            execv(binary, cArgs)
            _exit(127)
        }
        close(fds[1])
        if pid < 0 {
            close(fds[0])
            return "not-started fork: \(errnoName(errno))"
        }
        let deadline = Clock.now() + Double(test.timeoutSeconds)
        let timedOut = relay(from: fds[0], to: out, until: deadline)
        close(fds[0])
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // Whatever it left behind in its group goes with it.
        kill(-pid, SIGKILL)
        if timedOut { return "killed \(test.timeoutSeconds)" }
        let signal = status & 0x7f
        if signal != 0 { return "signal \(signal)" }
        let code = (status >> 8) & 0xff
        if code == 127 { return "not-started cannot execute \(binary)" }
        return "exit \(code)"
    }

    /// Copies complete lines from `fd` to the results port as `# tp| ` lines
    /// until end of file; true when the deadline came first.
    private static func relay(from fd: Int32, to out: Int32, until deadline: Double) -> Bool {
        var partial: [UInt8] = []
        let timedOut = FD.drain(fd, until: deadline) { data in
            partial.append(contentsOf: data)
            while let newline = partial.firstIndex(of: 0x0a) {
                send(Array(partial[..<newline]), to: out)
                partial.removeSubrange(...newline)
            }
        }
        if !partial.isEmpty { send(partial, to: out) }
        return timedOut
    }

    private static func send(_ line: [UInt8], to out: Int32) {
        var text = String(decoding: line, as: UTF8.self)
        if text.last == "\r" { text.removeLast() }
        FD.writeAll(out, "# \(ResultsComment.testProgsLine)\(text)\n")
    }
}
