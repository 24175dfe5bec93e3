import Foundation

/// One boot's output as it grows: the results port and the console, each
/// byte read once and parsed as it comes. It is the only source of the
/// boot's verdicts: the records shown live as results arrive, which test
/// is running (for the host's watchdog), and, when the boot ends, the KTAP
/// document and console the final verdicts are judged on.
struct BootTracker {
    private var port: Source
    private var console: Source
    private var portKTAP = KTAPParser.Stream()
    /// KTAP the agent wrote to the console: a guest with no results port
    /// (virtio-console as a module, like Debian's 6.1 cloud kernel).
    private var consoleKTAP = KTAPParser.Stream()
    private var consoleScan = ConsoleLog.Stream()
    /// Names of the records `newRecords` has given.
    private(set) var shown: Set<String> = []
    private var shownCount = 0
    private(set) var consoleTail: [String] = []

    /// The console's last lines (blank ones left out), which an
    /// agent-did-not-start verdict quotes.
    static let tailLines = 15

    /// Where the lines come from: a file QEMU writes, or captured text.
    private enum Source {
        case file(FileTail)
        case text(String?)

        mutating func lines(final: Bool) -> [Substring] {
            switch self {
            case .file(var tail):
                let lines = final ? tail.finalLines() : tail.newLines()
                self = .file(tail)
                return lines
            case .text(let text):
                self = .text(nil)
                return text.map(TextLines.split) ?? []
            }
        }
    }

    /// Follows the files a running QEMU writes.
    init(resultsFile: URL, consoleLog: URL) {
        port = .file(FileTail(path: resultsFile.path))
        console = .file(FileTail(path: consoleLog.path))
    }

    /// Captured output of a finished boot (the parser tests' fixtures).
    init(ktap: String, console: String) {
        port = .text(ktap)
        self.console = .text(console)
        read(final: true)
    }

    /// Reads what was written since the last call: the port first, so the
    /// console read after it holds the splats of every result seen (the
    /// agent writes a test's end marker to the console before its result).
    mutating func poll() { read(final: false) }

    /// Reads the rest once QEMU has exited, unterminated last lines too.
    mutating func finish() { read(final: true) }

    private mutating func read(final: Bool) {
        for line in port.lines(final: final) { portKTAP.consume(line) }
        let portHasKTAP = portKTAP.document.hasVersionLine
        for line in console.lines(final: final) {
            consoleScan.consume(line)
            if !portHasKTAP { consoleKTAP.consume(line) }
            if !line.isEmpty { consoleTail.append(String(line)) }
        }
        if consoleTail.count > Self.tailLines {
            consoleTail.removeFirst(consoleTail.count - Self.tailLines)
        }
    }

    /// Whether the agent has started writing on the results port.
    var portStarted: Bool { portKTAP.document.hasVersionLine }

    /// Whether the KTAP came from the console, the guest having no port.
    var ktapFromConsole: Bool {
        !portKTAP.document.hasVersionLine && consoleKTAP.document.hasVersionLine
    }

    /// The KTAP stream so far: the port's, or the console's when only it has one.
    var document: KTAPDocument { ktapFromConsole ? consoleKTAP.document : portKTAP.document }

    /// The KTAP stream, ended: for the boot's final verdicts.
    var finishedDocument: KTAPDocument {
        ktapFromConsole ? consoleKTAP.finished : portKTAP.finished
    }

    /// What the console has shown so far: splats, markers, the release.
    var consoleLog: ConsoleLog { consoleScan.log }

    /// The test that started and has no result yet: the one running.
    var running: String? { document.unfinishedTests.last }

    /// The records of results that came since the last call, with the
    /// splats the console holds for them.
    mutating func newRecords() -> [TestRecord] {
        let results = document.results
        guard results.count > shownCount else { return [] }
        let fresh = results[shownCount...].map { RecordBuilder.record(from: $0, prefix: nil) }
        shownCount = results.count
        let names = Set(fresh.map(\.name))
        shown.formUnion(names)
        let splats = consoleLog.splats.filter { $0.test.map(names.contains) ?? false }
        return RecordBuilder.pin(splats, on: fresh).records
    }
}
