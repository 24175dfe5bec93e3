import Foundation
import Synchronization

/// Per-run artifact directories under `<cache>/runs`: console logs, KTAP,
/// build logs. A run of many kernels (a series, a bisect) keeps everything in
/// one directory. The newest `keep` are kept; one still in use by a live
/// run (its lock held) is never pruned, however old.
public enum RunDirectories {
    static let keep = 20
    /// Lock descriptors of this process's directories, held until it exits.
    private static let held = Mutex<[Int32]>([])

    /// A new directory `runs/<time>-<pid>[-kind]`, locked as in use.
    public static func create(in cache: Cache, kind: String? = nil) throws -> URL {
        let stamp = ISO8601DateFormatter().string(from: Date())
            .replacingOccurrences(of: ":", with: "")
        let name = "\(stamp)-\(getpid())" + (kind.map { "-\($0)" } ?? "")
        let dir = try cache.directory("runs", name)
        let fd = open(dir.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 {
            flock(fd, LOCK_SH)
            held.withLock { $0.append(fd) }
        }
        prune(cache.entry("runs"), keeping: name)
        return dir
    }

    /// Removes all but the newest `keep` directories, skipping any that a
    /// live run holds.
    static func prune(_ runs: URL, keeping current: String) {
        let all = ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? [])
            .filter { !$0.hasPrefix(".") && $0 != current }
        for old in all.sorted().dropLast(keep - 1) {
            let dir = runs.appendingPathComponent(old)
            if isInUse(dir) { continue }
            try? FileManager.default.removeItem(at: dir)
        }
    }

    /// Whether another live process holds `dir`'s lock.
    static func isInUse(_ dir: URL) -> Bool {
        let fd = open(dir.appendingPathComponent(".lock").path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) != 0
    }
}
