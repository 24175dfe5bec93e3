import Foundation

/// An exclusive `flock` on `<directory>/lock` held while a body runs: two
/// runs never build into one cache directory at once; the second waits.
enum DirectoryLock {
    /// Runs `body` holding the lock; waits up to `timeout` seconds for it,
    /// calling `waiting` once if it has to wait.
    static func hold<T>(
        _ directory: URL, timeout: Double, waiting: () -> Void, _ body: () throws -> T
    ) throws -> T {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fd = open(
            directory.appendingPathComponent("lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SelftestError(
                .infrastructure, .cache,
                "cannot open the lock in \(directory.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(timeout)
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if !told {
                waiting()
                told = true
            }
            if Date() >= deadline {
                throw SelftestError(
                    .infrastructure, .cache,
                    "another build held \(directory.path) for \(Int(timeout)) s",
                    fix: "wait for the other selftests run to finish, or stop it")
            }
            usleep(500_000)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
