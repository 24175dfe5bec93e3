import Foundation
import Synchronization

/// What the commands show on the terminal while a run goes: notes on
/// stderr, and one line per finished test on stdout.
public struct TerminalObserver: RunObserver {
    public var color: Bool

    public init(color: Bool) {
        self.color = color
    }

    public func note(_ text: String) {
        FileHandle.standardError.write(Data("selftests: \(text)\n".utf8))
    }

    public func finished(_ record: TestRecord) {
        print(TerminalReport.line(for: record, color: color))
        fflush(nil)
    }
}

/// Shows build progress on a terminal: one line redrawn in place on a TTY;
/// elsewhere (CI logs) a line every `interval` seconds and at each tenth done.
public final class TerminalBuildObserver: KernelBuildObserver {
    let interactive: Bool
    let interval: Double
    let write: @Sendable (String) -> Void
    private let state = Mutex<(shown: Date, tenth: Int, drawn: Bool)>((.distantPast, 0, false))

    public init(
        interactive: Bool, interval: Double = 30,
        write: @escaping @Sendable (String) -> Void = {
            FileHandle.standardError.write(Data($0.utf8))
        }
    ) {
        self.interactive = interactive
        self.interval = interval
        self.write = write
    }

    public func note(_ text: String) {
        let clear = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        write((clear ? "\r\u{1b}[K" : "") + "selftests: \(text)\n")
    }

    public func progress(_ status: BuildStatus) {
        let now = Date()
        let text: String? = state.withLock { state in
            if interactive {
                guard now.timeIntervalSince(state.shown) >= 0.2 else { return nil }
                state.shown = now
                state.drawn = true
                return "\r\u{1b}[K" + status.line()
            }
            let tenth = Int((status.fraction ?? 0) * 10)
            guard status.steps > 0,
                now.timeIntervalSince(state.shown) >= interval || tenth > state.tenth
            else {
                return nil
            }
            state.shown = now
            state.tenth = tenth
            return "selftests: build " + status.line() + "\n"
        }
        if let text { write(text) }
    }

    public func finished(_ status: BuildStatus) {
        let clear = state.withLock { state in
            defer { state.drawn = false }
            return state.drawn
        }
        if clear { write("\r\u{1b}[K") }
    }
}
