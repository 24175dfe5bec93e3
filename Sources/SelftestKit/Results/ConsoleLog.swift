import SelftestCatalog

/// What the guest kernel printed on its console: complaints, test markers, release.
///
/// Each kernel report becomes one `Splat`: its title line (timestamps dropped),
/// any `cut here` or `====` line before it, and the lines after it up to `---[ end
/// trace`, `---[ end Kernel panic`, the closing `====` of a KASAN or UBSAN report,
/// the `</TASK>` of the one stack dump that ends a lockdep report, a blank line
/// (not in KASAN and lockdep reports, which contain them), the next
/// report, a test marker, or `maxLines`. `rcu: ` lines join the last RCU stall even
/// when another CPU's report comes in between. Lines that belong to the report
/// being read do not start one: the `Oops:` after a `BUG:` page fault or `kernel BUG
/// at` (kind becomes `oops`), more `BUG: KASAN:` lines, a `Kernel panic` while the
/// report is open; a panic that is a consequence (`Fatal exception`, `panic_on_warn`,
/// ...) joins the report before it. An oops ending in a panic stays `oops`; any
/// other report ending in a panic becomes `panic`.
///
/// An OOM kill is one `outOfMemory` splat: the `Out of memory: Killed
/// process` line is its title, after the `invoked oom-killer` and
/// `oom-kill:` lines of the same report (its memory and task dumps are left
/// out: hundreds of lines that say nothing a user acts on).
public struct ConsoleLog: Sendable, Equatable {
    /// A `selftests: start NAME` or `selftests: end NAME` line from the guest agent.
    public struct Marker: Sendable, Equatable {
        /// Whether the marker opens or closes a test.
        public typealias Kind = TestMarker.Kind

        public var kind: Kind
        public var test: String
        /// Zero-based index of the line in the console text.
        public var line: Int

        public init(kind: Kind, test: String, line: Int) {
            self.kind = kind
            self.test = test
            self.line = line
        }
    }

    /// The most lines kept per splat: a lockdep report of a two-lock cycle
    /// is 105 (a captured one), longer chains more.
    public static let maxLines = 200

    public var splats: [Splat] = []
    public var markers: [Marker] = []
    /// The release from `Linux version X ...`, e.g. `6.12.117+deb12-cloud-amd64`.
    public var kernelRelease: String?
    /// Whether the kernel panicked or oopsed.
    public var panicked = false

    public init() {}

    public static func parse(_ text: String) -> ConsoleLog {
        var stream = Stream()
        for line in TextLines.split(text) { stream.consume(line) }
        return stream.log
    }

    /// The scanner fed one line at a time, as a boot's console grows.
    struct Stream {
        private var scanner = Scanner()
        private var lines = 0

        /// One line, without its newline.
        mutating func consume(_ raw: Substring) {
            scanner.consume(ConsoleText.kernelText(raw), line: lines)
            lines += 1
        }

        /// What the console has shown so far.
        var log: ConsoleLog {
            var log = scanner.log
            log.panicked = log.splats.contains { $0.kind.isCrash }
            return log
        }
    }

    private struct Scanner {
        var log = ConsoleLog()
        var currentTest: String?
        /// The splat still collecting lines, and how many lines ago its title was.
        var open: Int?
        var age = 0
        /// The last splat since the last marker, for a consequent panic.
        var last: Int?
        /// The last RCU stall since the last marker: its `rcu: ` lines may come
        /// interleaved with another report printed on another CPU.
        var rcu: Int?
        /// A `cut here` line and what followed it, waiting for the title.
        var preamble: [String] = []
        var previous: Substring = ""
        /// The `invoked oom-killer` and `oom-kill:` lines of the OOM report
        /// being printed, waiting for its `Killed process` line.
        var oom: [String] = []

        mutating func consume(_ text: Substring, line: Int) {
            defer { previous = text }
            if log.kernelRelease == nil, text.hasPrefix("Linux version ") {
                log.kernelRelease = text.dropFirst(14).split(separator: " ").first.map(String.init)
            }
            if let marker = ConsoleText.marker(text, line: line) {
                (open, last, rcu, preamble) = (nil, nil, nil, [])
                log.markers.append(marker)
                currentTest = marker.kind == .start ? marker.test : nil
                return
            }
            if OOMRules.isPart(text) {
                consumeOOM(text)
                return
            }
            if text.hasPrefix("------------[ cut here ]") {
                open = nil
                preamble = [String(text)]
                return
            }
            let kind = SplatRules.kind(of: text)
            if kind == nil, text.hasPrefix("rcu: "), let index = rcu, index != open {
                append(text, to: index)
            } else if let kind {
                report(kind, text)
            } else if !preamble.isEmpty {
                preamble = preamble.count < 6 ? preamble + [String(text)] : []
            } else if let index = open {
                continueSplat(index, text)
            }
        }

        mutating func consumeOOM(_ text: Substring) {
            // The OOM report's dumps follow; they belong to no open report.
            (open, preamble) = (nil, [])
            guard OOMRules.isKill(text) else {
                if text.contains(OOMRules.invoked) { oom = [] }
                oom.append(String(text))
                return
            }
            log.splats.append(
                Splat(
                    kind: .outOfMemory, title: String(text), lines: oom + [String(text)],
                    test: currentTest))
            oom = []
        }

        mutating func report(_ kind: Splat.Kind, _ text: Substring) {
            if let index = open, SplatRules.absorbs(log.splats[index], kind, age: age) {
                extend(index, text)
                log.splats[index].kind = SplatRules.merged(log.splats[index].kind, kind)
                return
            }
            if kind == .panic, open == nil, let index = last,
                SplatRules.consequences.contains(where: { text.contains($0) })
            {
                open = index
                extend(index, text)
                log.splats[index].kind = SplatRules.merged(log.splats[index].kind, kind)
                return
            }
            var lines = preamble
            if lines.isEmpty, SplatRules.isPreamble(previous) { lines.append(String(previous)) }
            lines.append(String(text))
            let splat = Splat(kind: kind, title: String(text), lines: lines, test: currentTest)
            log.splats.append(splat)
            open = log.splats.count - 1
            last = open
            if kind == .rcuStall { rcu = open }
            age = 0
            preamble = []
        }

        mutating func continueSplat(_ index: Int, _ text: Substring) {
            let splat = log.splats[index]
            if text.isEmpty, splat.kind != .kasan, splat.kind != .lockdep {
                open = nil
                return
            }
            extend(index, text)
            if text.hasPrefix("---[ end trace") || text.hasPrefix("---[ end Kernel panic")
                || ((splat.kind == .kasan || splat.title.hasPrefix("UBSAN:"))
                    && SplatRules.isSeparator(text))
                || (splat.kind == .lockdep && text == " </TASK>")
            {
                open = nil
            }
        }

        /// Adds a line to the open splat, closing it once it is full.
        mutating func extend(_ index: Int, _ text: Substring) {
            age += 1
            if !append(text, to: index) { open = nil }
        }

        @discardableResult
        mutating func append(_ text: Substring, to index: Int) -> Bool {
            guard log.splats[index].lines.count < ConsoleLog.maxLines else { return false }
            log.splats[index].lines.append(String(text))
            return true
        }
    }
}

/// The lines of an OOM killer's report that are kept.
enum OOMRules {
    static let invoked = " invoked oom-killer: "

    /// `init invoked oom-killer: …`, `oom-kill:constraint=…`, or a kill.
    static func isPart(_ text: Substring) -> Bool {
        text.contains(invoked) || text.hasPrefix("oom-kill:") || isKill(text)
    }

    /// `Out of memory: Killed process 145 (selftests-guest) …`, or the
    /// memory cgroup's `Memory cgroup out of memory: Killed process …`.
    static func isKill(_ text: Substring) -> Bool {
        (text.hasPrefix("Out of memory: ") || text.hasPrefix("Memory cgroup out of memory: "))
            && text.contains("Killed process ")
    }
}

/// How a console line names a kernel complaint.
enum SplatRules {
    static let lockdepPhrases = [
        "possible recursive locking", "possible circular locking", "inconsistent lock state",
        "suspicious RCU usage", "lock inversion", "lock order detected", "bad unlock balance",
        "held lock freed", "lock held when returning", "lock held at task exit",
        "Nested lock was not taken", "chain_key collision", "bad contention detected",
    ]

    static let consequences = [
        "Fatal exception", "panic_on_warn", "panic_on_oops", "softlockup: hung tasks",
        "hung_task: blocked tasks", "RCU Stall", "hard LOCKUP",
    ]

    /// The kind of report a line opens, or nil when it opens none.
    static func kind(of text: Substring) -> Splat.Kind? {
        if text.hasPrefix("Kernel panic - not syncing") { return .panic }
        if text.hasPrefix("Oops:") || text.hasPrefix("general protection fault")
            || text.hasPrefix("Internal error: Oops")
        {
            return .oops
        }
        if text.hasPrefix("BUG: KASAN:") { return .kasan }
        for prefix in ["watchdog: ", "NMI watchdog: ", ""] {
            let rest = text.hasPrefix(prefix) ? text.dropFirst(prefix.count) : ""
            if rest.hasPrefix("BUG: soft lockup") || rest.hasPrefix("Watchdog detected hard LOCKUP")
            {
                return .softLockup
            }
        }
        if text.hasPrefix("rcu: INFO: ") || text.hasPrefix("INFO: rcu"), text.contains("stall") {
            return .rcuStall
        }
        if text.hasPrefix("INFO: task "), text.contains(" blocked for more than ") {
            return .hungTask
        }
        if text.hasPrefix("WARNING: ") || text.hasPrefix("INFO: ") || text.hasPrefix("[ INFO: ") {
            if lockdepPhrases.contains(where: { text.contains($0) }) { return .lockdep }
            return text.hasPrefix("WARNING: ") ? .warning : nil
        }
        if text.hasPrefix("BUG: ") || text.hasPrefix("kernel BUG at ") || text.hasPrefix("UBSAN: ")
            || text.hasPrefix("Unable to handle kernel ")
        {
            return .bug
        }
        return nil
    }

    /// Whether a report line of `kind` belongs to the open splat rather than
    /// starting a new one (`age`: lines since the open splat's title).
    static func absorbs(_ splat: Splat, _ kind: Splat.Kind, age: Int) -> Bool {
        switch kind {
        case .oops: (splat.kind == .bug || splat.kind == .oops) && age <= 8
        case .kasan: splat.kind == .kasan && age <= 8
        case .panic: true
        default: false
        }
    }

    static func merged(_ current: Splat.Kind, _ incoming: Splat.Kind) -> Splat.Kind {
        if incoming == .oops { return .oops }
        if incoming == .panic, !current.isCrash { return .panic }
        return current
    }

    /// A line printed just before a report's title that belongs to it.
    static func isPreamble(_ text: Substring) -> Bool {
        isSeparator(text) || text.hasPrefix("sysrq: Trigger a crash")
    }

    static func isSeparator(_ text: Substring) -> Bool {
        text.count >= 20 && text.allSatisfy { $0 == "=" }
    }
}

/// Console line prefixes: `<4>`, `[    2.298615]`, `[    T1]`, and the guest agent's markers.
enum ConsoleText {
    /// The kernel's text of a console line: from its timestamp on, even when
    /// user-space output (a login prompt) came first on the same line.
    static func kernelText(_ line: Substring) -> Substring {
        if line.first != "[", line.first != "<", let start = timestampStart(in: line) {
            return strippingPrefix(line[start...])
        }
        return strippingPrefix(line)
    }

    /// The line without a leading `<N>` level, timestamp and caller id, and the
    /// one space the kernel puts after them.
    static func strippingPrefix(_ line: Substring) -> Substring {
        var rest = line
        if rest.first == "<", let close = rest.firstIndex(of: ">") {
            let level = rest[rest.index(after: rest.startIndex)..<close]
            if !level.isEmpty, level.count <= 2, level.allSatisfy(\.isNumber) {
                rest = rest[rest.index(after: close)...]
            }
        }
        var stripped = false
        while let field = bracketField(rest), isTimestamp(field.body) || isCallerID(field.body) {
            rest = field.rest
            stripped = true
        }
        if stripped, rest.first == " " { rest = rest.dropFirst() }
        return rest
    }

    static func marker(_ text: Substring, line: Int) -> ConsoleLog.Marker? {
        TestMarker(consoleText: text).map { .init(kind: $0.kind, test: $0.test, line: line) }
    }

    private static func bracketField(_ text: Substring) -> (body: Substring, rest: Substring)? {
        guard text.first == "[", let close = text.firstIndex(of: "]") else { return nil }
        return (text[text.index(after: text.startIndex)..<close], text[text.index(after: close)...])
    }

    /// `    2.298615` (seconds since boot).
    private static func isTimestamp(_ body: Substring) -> Bool {
        let parts = body.drop { $0 == " " }.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// `    T1` (task) or `    C3` (CPU), from CONFIG_PRINTK_CALLER.
    private static func isCallerID(_ body: Substring) -> Bool {
        let value = body.drop { $0 == " " }
        return (value.first == "T" || value.first == "C") && value.count > 1
            && value.dropFirst().allSatisfy(\.isNumber)
    }

    private static func timestampStart(in line: Substring) -> Substring.Index? {
        var index = line.firstIndex(of: "[")
        while let start = index {
            if let field = bracketField(line[start...]), isTimestamp(field.body) { return start }
            index = line[line.index(after: start)...].firstIndex(of: "[")
        }
        return nil
    }
}
