import Foundation

/// A kernel build's progress at one moment.
public struct BuildStatus: Sendable, Equatable {
    /// Kbuild steps so far (`CC`, `LD`, `BTF`… lines).
    public var steps: Int
    /// Steps a build from scratch took last time; nil for an incremental
    /// build, whose size nobody knows in advance.
    public var estimate: Int?
    /// The step running now, e.g. `CC kernel/bpf/core.o`.
    public var current: String?
    public var elapsed: Double

    public init(steps: Int, estimate: Int?, current: String?, elapsed: Double) {
        self.steps = steps
        self.estimate = estimate
        self.current = current
        self.elapsed = elapsed
    }

    /// Done so far, below 1 until the build says it is finished.
    public var fraction: Double? {
        guard let estimate, estimate > 0 else { return nil }
        return min(0.99, Double(steps) / Double(estimate))
    }

    /// `[######··············]  31%  812/2650  CC kernel/bpf/core.o  4m02s`, or
    /// without an estimate `step 12  LD vmlinux.o  0m41s`; cut to `width`.
    public func line(width: Int = 100) -> String {
        var head: String
        if let fraction, let estimate {
            let cells = 20
            let full = Int(fraction * Double(cells))
            let bar =
                String(repeating: "#", count: full) + String(repeating: "·", count: cells - full)
            let percent = String(format: "%3d%%", Int(fraction * 100))
            head = "[\(bar)] \(percent)  \(steps)/\(estimate)"
        } else {
            head = "step \(steps)"
        }
        let time = Self.duration(elapsed)
        let room = width - head.count - time.count - 4
        if let current, room > 8 {
            let shown = current.count > room ? "…" + current.suffix(room - 1) : current
            head += "  " + shown
        }
        return head + "  " + time
    }

    /// `8.2s` under a minute, else `12m04s`.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        return String(format: "%dm%02ds", whole / 60, whole % 60)
    }
}

/// Where a kernel build reports: notes, and its progress as it goes.
public protocol KernelBuildObserver: Sendable {
    func note(_ text: String)
    /// Called often (each poll of the build's output); throttling is the observer's.
    func progress(_ status: BuildStatus)
    /// The build ended (either way); a live line should be cleared.
    func finished(_ status: BuildStatus)
}
