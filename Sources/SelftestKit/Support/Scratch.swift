import Foundation
import Synchronization

/// Scratch files and directories that go however the run ends: by the
/// caller's `defer` on the normal paths, by the interrupt handler on
/// SIGINT, SIGTERM, SIGHUP or SIGPIPE (which exits without unwinding, so no
/// `defer` runs), and by the next run's `sweep` after a SIGKILL.
enum Scratch {
    private static let tokens = Mutex<[String: Int]>([:])

    /// A new directory `<parent>/<prefix>-<pid>-<uuid>`; pair with `remove`.
    static func directory(in parent: URL, prefix: String) throws -> URL {
        let dir = parent.appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        track(dir)
        return dir
    }

    /// Removes `url` if the runner is interrupted before `remove(url)`, and
    /// what a tool killed meanwhile left beside it under a longer name
    /// (clang's `X.o` is written as `X.o-….tmp` first).
    static func track(_ url: URL) {
        let token = InterruptHandler.register {
            let parent = url.deletingLastPathComponent()
            let names = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
            for name in names where name.hasPrefix(url.lastPathComponent) {
                try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
            }
        }
        tokens.withLock { $0[url.path] = token }
    }

    /// Removes `url` now, and from the interrupt handler's list.
    static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
        if let token = tokens.withLock({ $0.removeValue(forKey: url.path) }) {
            InterruptHandler.remove(token)
        }
    }

    /// Removes what a runner that is gone left in `directory`: entries
    /// named `<prefix>-<pid>-…` whose pid no longer runs.
    static func sweep(_ directory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names {
            let parts = name.split(separator: "-")
            guard parts.count > 2, let pid = pid_t(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
        }
    }
}
