import Foundation

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
