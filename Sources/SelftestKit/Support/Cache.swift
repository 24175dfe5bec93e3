import Foundation

/// The on-disk cache: `$XDG_CACHE_HOME/selftests` (or `--cache-dir`).
///
/// Every product is written to a temporary name in the same directory and
/// renamed into place, so a crash or a second run at the same time never
/// sees a half-written entry.
public struct Cache: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// The default location, following the XDG base directory convention.
    public static func defaultRoot(
        environment: [String: String] = ProcessInfo.processInfo.environment
    )
        -> URL
    {
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("selftests")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/selftests")
    }

    public func directory(_ parts: String...) throws -> URL {
        let url = parts.reduce(root) { $0.appendingPathComponent($1) }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch let error where Self.isOutOfSpace(error) {
            throw Self.full(url.deletingLastPathComponent())
        }
        return url
    }

    public func entry(_ parts: String...) -> URL {
        parts.reduce(root) { $0.appendingPathComponent($1) }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try produce(url) { try data.write(to: $0) }
    }

    /// Produces a file at `url` by letting `make` write a temporary path,
    /// then renaming; if `make` throws, nothing is left behind. A write that
    /// finds the filesystem full says so, naming the directory.
    public static func produce(_ url: URL, _ make: (URL) throws -> Void) throws {
        let directory = url.deletingLastPathComponent()
        let temp = directory.appendingPathComponent(
            ".tmp-\(getpid())-\(UUID().uuidString)-\(url.lastPathComponent)")
        Scratch.track(temp)
        defer { Scratch.remove(temp) }
        // Another thread (the KVM probe, a compile) can still be working
        // while an interrupt shuts the runner down: once the shutdown has
        // begun no entry is started or finished, so none is left half
        // written after the cleanups ran, and a probe the shutdown killed
        // is not recorded as the host's answer.
        let interrupted = SelftestError(.interrupted, "interrupted")
        do {
            guard InterruptHandler.cause == nil else { throw interrupted }
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true)
            try make(temp)
            guard InterruptHandler.cause == nil else { throw interrupted }
            try rename(temp, to: url)
        } catch {
            if isOutOfSpace(error) { throw full(directory) }
            throw error
        }
    }

    private static func rename(_ from: URL, to: URL) throws {
        if Glibc.rename(from.path, to.path) != 0 {
            throw SelftestError(
                .infrastructure,
                "cannot move \(from.path) to \(to.path): \(String(cString: strerror(errno)))",
                domain: .cache)
        }
    }

    public static func exists(_ url: URL) -> Bool {
        FileManager.default.fileExists(atPath: url.path)
    }
}

/// Content digests of files, remembered by (path, size, mtime, inode) so a
/// large file that did not change is not read again on the next run.
public final class FileDigests: @unchecked Sendable {
    // @unchecked: all state is behind `lock`.
    private let lock = NSLock()
    private var memo: [String: String] = [:]
    private let store: URL?
    private var dirty = false

    public init(store: URL?) {
        self.store = store
        if let store, let data = try? Data(contentsOf: store),
            let saved = try? DocumentJSON.decode([String: String].self, from: data)
        {
            memo = saved
        }
    }

    public func digest(of path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SelftestError(.usage, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        return try remember(
            key: Self.key(path, st),
            { try (st.st_size >= 1 << 18 ? Self.sha256sum(path) : nil) ?? Self.hash(path) })
    }

    /// What `derive` says of the file at `path` (a tool's answer to a probe,
    /// the libraries a binary loads), remembered under `kind` like a digest:
    /// derived again only once the file changes. Each probe spawns a process
    /// that costs 60-80 ms, on every run, before the guest can boot.
    public func remembered(
        _ kind: String, of path: String, _ derive: () throws -> String
    ) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return try derive() }
        return try remember(key: "\(kind)|" + Self.key(path, st), derive)
    }

    /// Forgets what `remembered` keeps under `kind` for the file at `path`.
    public func forget(_ kind: String, of path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        let key = "\(kind)|" + Self.key(path, st)
        lock.withLock { _ = memo.removeValue(forKey: key) }
    }

    private static func key(_ path: String, _ st: stat) -> String {
        "\(path)|\(st.st_size)|\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)|\(st.st_ino)"
    }

    private func remember(key: String, _ derive: () throws -> String) throws -> String {
        if let known = lock.withLock({ memo[key] }) { return known }
        let value = try derive()
        lock.withLock {
            memo[key] = value
            dirty = true
        }
        return value
    }

    static func hash(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SelftestError(.usage, "cannot open \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(chunk)
        }
        return hasher.finalize()
    }

    /// coreutils' digest of a large file (a kernel image, the agent's
    /// libraries): this file's SHA-256 takes about a second for a 5 MB
    /// bzImage in a debug build, sha256sum 40 ms. Nil if it is not at hand.
    static func sha256sum(_ path: String) -> String? {
        guard
            let result = try? SystemRunner().run(Command("sha256sum", ["--", path]), timeout: 120),
            result.succeeded
        else { return nil }
        let digest = String(result.stdoutText.prefix(64))
        return digest.count == 64 && digest.allSatisfy(\.isHexDigit) ? digest : nil
    }

    /// Saves new digests for the next run (atomically; losing a race only
    /// costs the other run's additions).
    public func save() {
        guard let store else { return }
        let data: Data? = lock.withLock {
            guard dirty else { return nil }
            dirty = false
            return try? DocumentJSON.data(memo)
        }
        if let data { try? Cache.write(data, to: store) }
    }
}
