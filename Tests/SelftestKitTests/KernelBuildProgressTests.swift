import Foundation
import SelftestTestSupport
import Synchronization
import Testing

@testable import SelftestKit

/// What a build shows while it runs: a bar against the last clean build, or a
/// counter when the size is unknown, with the current step and the time.
@Suite(.tags(.unit)) struct KernelBuildProgressTests {
    @Test func aBarWhenTheSizeIsKnown() {
        let status = BuildStatus(
            steps: 812, estimate: 2650, current: "CC kernel/bpf/core.o", elapsed: 242)
        #expect(
            status.line() == "[######··············]  30%  812/2650  CC kernel/bpf/core.o  4m02s")
    }

    @Test func aCounterWhenItIsNot() {
        let status = BuildStatus(steps: 12, estimate: nil, current: "LD vmlinux.o", elapsed: 41.04)
        #expect(status.line() == "step 12  LD vmlinux.o  41.0s")
    }

    @Test func neverAFullBarBeforeTheEndAndLongStepsAreCut() {
        let over = BuildStatus(steps: 3000, estimate: 2650, current: nil, elapsed: 900)
        #expect(over.fraction == 0.99)
        #expect(over.line() == "[###################·]  99%  3000/2650  15m00s")
        let long = BuildStatus(
            steps: 1, estimate: nil,
            current: "CC /very/long/path/" + String(repeating: "x", count: 200) + ".o", elapsed: 1)
        let line = long.line(width: 60)
        #expect(line.count <= 60, "\(line.count): \(line)")
        #expect(line.hasSuffix("xxx.o  1.0s"))
        #expect(line.contains("…"))
    }

    @Test func durationsReadAsMinutesPastOne() {
        #expect(BuildStatus.duration(8.24) == "8.2s")
        #expect(BuildStatus.duration(59.9) == "59.9s")
        #expect(BuildStatus.duration(754.4) == "12m34s")
    }

    @Test func inALogALineEveryIntervalAndAtEachTenth() {
        let written = Mutex<[String]>([])
        let observer = TerminalBuildObserver(interactive: false, interval: 3600) { text in
            written.withLock { $0.append(text) }
        }
        for steps in stride(from: 0, through: 260, by: 10) {
            observer.progress(
                BuildStatus(steps: steps, estimate: 1000, current: "CC x.o", elapsed: 1))
        }
        let lines = written.withLock { $0 }
        #expect(
            lines == [
                "selftests: build [····················]   1%  10/1000  CC x.o  1.0s\n",
                "selftests: build [##··················]  10%  100/1000  CC x.o  1.0s\n",
                "selftests: build [####················]  20%  200/1000  CC x.o  1.0s\n",
            ], "the first step, then one line per tenth (the interval is an hour)")
    }

    @Test func onATerminalOneLineRedrawnAndClearedForNotes() {
        let written = Mutex<[String]>([])
        let observer = TerminalBuildObserver(interactive: true) { text in
            written.withLock { $0.append(text) }
        }
        observer.progress(BuildStatus(steps: 1, estimate: nil, current: "CC a.o", elapsed: 1))
        observer.progress(BuildStatus(steps: 2, estimate: nil, current: "CC b.o", elapsed: 1))
        observer.note("configuring")
        observer.finished(BuildStatus(steps: 2, estimate: nil, current: nil, elapsed: 1))
        #expect(
            written.withLock { $0 } == [
                "\r\u{1b}[Kstep 1  CC a.o  1.0s", "\r\u{1b}[Kselftests: configuring\n",
            ], "the second update comes within 0.2 s and is skipped; nothing left to clear")
    }
}
