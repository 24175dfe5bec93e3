import Foundation

/// What a prune removed (or, dry, would remove) and what it left because a
/// running selftests holds it.
public struct CachePruneResult: Codable, Equatable, Sendable {
    /// One entry removed: `images/<name>` or `runs/<name>`.
    public struct Removal: Codable, Equatable, Sendable {
        public var area: String
        public var name: String
        public var bytes: Int64
        /// When it was last used (ISO 8601).
        public var lastUsed: String
    }
    public var removed: [Removal] = []
    /// Entries a prune would have removed but a live run holds.
    public var inUse: [String] = []
    public var dryRun: Bool
    public var freed: Int64 { removed.reduce(0) { $0 + $1.bytes } }

    public init(dryRun: Bool) { self.dryRun = dryRun }

    mutating func merge(_ other: CachePruneResult) {
        removed += other.removed
        inUse += other.inUse
    }
}

/// Removes least-recently-used guest images down to a size, and old run
/// directories beyond a size and a count. An entry a live run holds (its
/// lock) is never removed; a removal takes that lock exclusively first, so
/// a run starting at the same time either waits for it or keeps the entry.
public struct CachePruner: Sendable {
    public let cache: Cache
    public var dryRun: Bool
    /// The automatic bound on `images/` after each run, unless
    /// `SELFTESTS_IMAGES_MAX` says otherwise.
    public static let defaultImagesMax: Int64 = 2 << 30
    /// Run directories kept after each run, unless `--runs-keep` says otherwise.
    public static let defaultRunsKeep = 20
    /// The environment variable that sets the automatic bound on `images/`:
    /// a size (`500M`, `4G`), or `off`.
    public static let imagesMaxVariable = "SELFTESTS_IMAGES_MAX"

    /// The bound a run prunes `images/` to: `SELFTESTS_IMAGES_MAX`, else
    /// 2 GiB; nil when it is `off`. A value that is not a size is refused.
    public static func automaticImagesMax(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Int64? {
        guard let value = environment[imagesMaxVariable], !value.isEmpty else {
            return defaultImagesMax
        }
        if value.lowercased() == "off" { return nil }
        return try ByteSize.parse(value, input: "\(imagesMaxVariable)=\(value)")
    }

    public init(cache: Cache, dryRun: Bool = false) {
        self.cache = cache
        self.dryRun = dryRun
    }

    /// One image with its record and marker, as one entry.
    struct ImageEntry {
        var name: String
        var lastUse: Date
        var bytes: Int64
        /// The marker's mtime when listed; nil if it had none.
        var marked: Date?
    }

    /// The images, least recently used first. Only `images/` is read.
    func images() -> [ImageEntry] {
        let dir = cache.entry("images").path
        var names = Set<String>()
        for file in DiskUsage.names(in: dir) {
            if file.hasPrefix(".tmp-") { continue }
            if !file.hasPrefix(".") {
                names.insert(file)
            } else if file.hasSuffix(".digest") {
                names.insert(String(file.dropFirst().dropLast(".digest".count)))
            } else if file.hasSuffix(".used") {
                names.insert(String(file.dropFirst().dropLast(".used".count)))
            }
        }
        let usage = DiskUsage()
        return names.map { name in
            let files = [name, ".\(name).digest", ".\(name).used"].map { "\(dir)/\($0)" }
            // The marker's time when a run touched it; else when it was written.
            let lastUse =
                Self.modified(files[2]) ?? files.compactMap(Self.modified).max() ?? .distantPast
            return ImageEntry(
                name: name, lastUse: lastUse,
                bytes: files.reduce(0) { $0 + usage.allocated($1) },
                marked: Self.modified(files[2]))
        }.sorted { ($0.lastUse, $0.name) < ($1.lastUse, $1.name) }
    }

    /// What `images/` holds now, on disk.
    public func imagesSize() -> Int64 { images().reduce(0) { $0 + $1.bytes } }

    /// Removes the least recently used images until `images/` holds at most
    /// `max` bytes, and what dead runs left half-written.
    public func pruneImages(max: Int64) -> CachePruneResult {
        var result = CachePruneResult(dryRun: dryRun)
        result.removed += staleTemporaries()
        let entries = images()
        var total = entries.reduce(0) { $0 + $1.bytes }
        for entry in entries where total > max {
            let marker = cache.entry("images", ".\(entry.name).used")
            // Used since it was listed (a run pinned it and let go): no
            // longer the least recently used.
            let unused = { Self.modified(marker.path) == entry.marked }
            guard unused() else { continue }
            let outcome = withExclusiveLock(marker, create: !dryRun, unchanged: unused) {
                for file in [entry.name, ".\(entry.name).digest", ".\(entry.name).used"] {
                    unlink(cache.entry("images", file).path)
                }
            }
            switch outcome {
            case .removed:
                result.removed.append(removal("images", entry.name, entry.bytes, entry.lastUse))
                total -= entry.bytes
            case .held: result.inUse.append("images/\(entry.name)")
            case .changed: continue
            }
        }
        return result
    }

    /// Removes run directories, oldest first, until at most `keep` remain
    /// and they hold at most `max` bytes (each bound only when given).
    /// `sparing` is the caller's own new directory.
    public func pruneRuns(max: Int64?, keep: Int?, sparing: String? = nil) -> CachePruneResult {
        var result = CachePruneResult(dryRun: dryRun)
        let runs = cache.entry("runs")
        // Names start with the time the run began: sorted is oldest first.
        let names = DiskUsage.names(in: runs.path).filter { !$0.hasPrefix(".") && $0 != sparing }
            .sorted()
        let usage = DiskUsage()
        let sizes =
            max == nil
            ? [:]
            : Dictionary(
                uniqueKeysWithValues: names.map { ($0, usage.allocated(runs.path + "/" + $0)) })
        var total = sizes.values.reduce(0, +)
        var count = names.count + (sparing == nil ? 0 : 1)
        for name in names {
            let overCount = keep.map { count > $0 } ?? false
            let overSize = max.map { total > $0 } ?? false
            guard overCount || overSize else { break }
            let dir = runs.appendingPathComponent(name)
            let bytes = sizes[name] ?? usage.allocated(dir.path)
            let lastUse = Self.modified(dir.path) ?? .distantPast
            let outcome = withExclusiveLock(dir.appendingPathComponent(".lock"), create: false) {
                try? FileManager.default.removeItem(at: dir)
            }
            if outcome == .removed {
                result.removed.append(removal("runs", name, bytes, lastUse))
                total -= bytes
                count -= 1
            } else {
                // Held by a live run: not one of the old ones `keep` counts.
                result.inUse.append("runs/\(name)")
                count -= 1
            }
        }
        return result
    }

    /// `.tmp-<pid>-…` files in `images/` whose writer is dead: a run
    /// killed with SIGKILL mid-write. A live writer's are left alone.
    func staleTemporaries() -> [CachePruneResult.Removal] {
        let dir = cache.entry("images").path
        var removed: [CachePruneResult.Removal] = []
        for file in DiskUsage.names(in: dir) where file.hasPrefix(".tmp-") {
            let pid = file.dropFirst(5).prefix { $0.isNumber }
            guard let pid = Int32(pid), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = "\(dir)/\(file)"
            let bytes = DiskUsage().allocated(path)
            let lastUse = Self.modified(path) ?? .distantPast
            if !dryRun { unlink(path) }
            removed.append(removal("images", file, bytes, lastUse))
        }
        return removed
    }

    enum LockedRemoval { case removed, held, changed }

    /// Runs `remove` holding `lock` exclusively, if `unchanged` still holds
    /// then; `.held`, and nothing done, if a live run holds it. A dry run
    /// only asks. A missing lock file is created when `create` (an image's
    /// marker: a run pins it by name) and otherwise means nobody holds it.
    private func withExclusiveLock(
        _ lock: URL, create: Bool, unchanged: () -> Bool = { true }, _ remove: () -> Void
    ) -> LockedRemoval {
        var fd = open(lock.path, O_RDWR | O_CLOEXEC)
        var madeHere = false
        if fd < 0 && errno == ENOENT {
            guard create else {
                if !dryRun { remove() }
                return .removed
            }
            // Made here, exclusively: one a run made meanwhile is a use.
            fd = open(lock.path, O_RDWR | O_CLOEXEC | O_CREAT | O_EXCL, 0o644)
            if fd < 0 { return errno == EEXIST ? .changed : .held }
            madeHere = true
        }
        guard fd >= 0 else { return .held }
        defer { close(fd) }
        // A child being spawned (by this process or another) holds a copy of
        // a run's descriptor until its exec closes it: a lock held for that
        // moment is not a run's. Three short tries, then it is one.
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        for _ in 0..<3 where !locked {
            usleep(20_000)
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else { return .held }
        // Unlinked and made again by a run while this one opened it: that
        // run's marker, not ours to judge.
        guard ImagePin.sameFile(fd, lock.path) else { return .held }
        guard madeHere || unchanged() else { return .changed }
        if !dryRun { remove() }
        return .removed
    }

    private func removal(_ area: String, _ name: String, _ bytes: Int64, _ lastUse: Date)
        -> CachePruneResult.Removal
    {
        let stamp = lastUse == .distantPast ? "" : ISO8601DateFormatter().string(from: lastUse)
        return .init(area: area, name: name, bytes: bytes, lastUsed: stamp)
    }

    static func modified(_ path: String) -> Date? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Date(
            timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }
}
