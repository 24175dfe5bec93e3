import Foundation
import SelftestCatalog

/// The kernel of a run given a source tree: built, or the reason it was not.
enum TreeKernel {
    case kernel(KernelImage)
    /// The tree did not build: every selected test is a `build-error`.
    case failed(RunReport)
}

extension RunPipeline {
    /// Builds `tree` (incrementally when it was built before) and returns the
    /// bzImage with its vmlinux; a compile error becomes a `build-error`
    /// record for every test, since none can run.
    func treeKernel(_ tree: String, tests: [TestSpec], cache: Cache, started: Date) throws
        -> TreeKernel
    {
        let request = KernelBuildRequest(tree: URL(fileURLWithPath: tree), configs: options.configs)
        let builder = KernelBuilder(request: request, cache: cache)
        let progress = buildObserver ?? NoteBuildObserver(observer: observer)
        switch try builder.build(observer: progress) {
        case .built(let product):
            return .kernel(try KernelImage(path: product.bzImage, vmlinux: product.vmlinux))
        case .failed(let failure):
            var report = RunReport(
                kernel: tree, accelerator: "none",
                startedAt: ISO8601DateFormatter().string(from: started))
            report.phases["kernel-build"] = failure.seconds
            report.records = tests.map {
                TestRecord(name: $0.name, outcome: .buildError, message: failure.message)
            }
            for record in report.records { observer.finished(record) }
            return .failed(report)
        }
    }
}

/// Build progress for a run observer that only takes notes: a note every
/// half minute (as in a CI log), never a redrawn line.
struct NoteBuildObserver: KernelBuildObserver {
    let observer: RunObserver
    let lines: TerminalBuildObserver

    init(observer: RunObserver) {
        self.observer = observer
        self.lines = TerminalBuildObserver(interactive: false) { line in
            let text = line.hasPrefix("selftests: ") ? String(line.dropFirst(11)) : line
            observer.note(text.trimmingCharacters(in: .newlines))
        }
    }

    func note(_ text: String) { observer.note(text) }
    func progress(_ status: BuildStatus) { lines.progress(status) }
    func finished(_ status: BuildStatus) {}
}
