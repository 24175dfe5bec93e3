import Foundation
import Synchronization

/// Per-run artifact directories under `<cache>/runs`: console logs, KTAP,
/// build logs. A run of many kernels (a series, a bisect) keeps everything in
/// one directory. The newest `CachePruner.defaultRunsKeep` are kept; one
/// still in use by a live run (its lock held) is never pruned, however old.
public enum RunDirectories {
    /// Lock descriptors of this process's directories, held until it exits.
    private static let held = Mutex<[Int32]>([])

    /// A new directory `runs/<time>-<pid>[-kind]`, locked as in use.
    public static func create(in cache: Cache, kind: String? = nil) throws -> URL {
        let stamp = ISO8601DateFormatter().string(from: Date())
            .replacingOccurrences(of: ":", with: "")
        let name = "\(stamp)-\(getpid())" + (kind.map { "-\($0)" } ?? "")
        // Made and locked under a hidden name, then renamed: a prune at the
        // same time never sees it unlocked.
        let staging = try cache.directory("runs", ".new-\(name)")
        let fd = open(
            staging.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 {
            flock(fd, LOCK_SH)
            held.withLock { $0.append(fd) }
        }
        let dir = cache.entry("runs", name)
        if rename(staging.path, dir.path) != 0 {
            throw SelftestError(
                .infrastructure, .cache,
                "cannot create the run directory \(dir.path): \(String(cString: strerror(errno)))")
        }
        _ = CachePruner(cache: cache).pruneRuns(
            max: nil, keep: CachePruner.defaultRunsKeep, sparing: name)
        return dir
    }
}
