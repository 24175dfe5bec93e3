import Foundation

/// Whether the cache can be written, checked before any work; and a full
/// filesystem, said as such wherever a write meets it.
extension Cache {
    /// What a run writes to the cache, in MiB, measured on Debian's 6.12
    /// and rounded up: the vmlinux extracted from the image (~60 MB, for the
    /// length of the run), vmlinux.h (~2.5 MB), the guest image (~32 MB),
    /// the run's logs (~25 MB). An estimate: a kernel build needs GiBs more.
    public static let estimatedRunMiB = 150

    /// How the user chose the cache, for messages: the option, or the
    /// environment it came from.
    public static func input(
        cacheDirectory: URL?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let cacheDirectory { return "--cache-dir \(cacheDirectory.path)" }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return "XDG_CACHE_HOME=\(xdg)" }
        return "the default cache \(defaultRoot(environment: environment).path)"
    }

    /// Makes the root and writes (then removes) a small file in it, so that
    /// a cache under a regular file, on a read-only or a full filesystem is
    /// refused before seconds of work, as what it is.
    public func checkWritable(input: String) throws {
        var current = ""
        for part in root.standardizedFileURL.path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw Self.problem(errno, at: current, input: input)
            }
        }
        var st = stat()
        if stat(root.path, &st) != 0 || st.st_mode & S_IFMT != S_IFDIR {
            throw Self.problem(ENOTDIR, at: root.path, input: input)
        }
        let probe = root.appendingPathComponent(".write-probe-\(getpid())-\(UUID().uuidString)")
        let fd = open(probe.path, O_CREAT | O_EXCL | O_WRONLY, 0o644)
        guard fd >= 0 else { throw Self.problem(errno, at: root.path, input: input) }
        defer { unlink(probe.path) }
        let block = [UInt8](repeating: 0, count: 1 << 16)
        let wrote = block.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let failure = wrote == block.count && fsync(fd) == 0 ? nil : errno
        close(fd)
        if let failure { throw Self.problem(failure, at: root.path, input: input) }
    }

    /// The refusal for `code`, met making or writing `path`.
    static func problem(_ code: Int32, at path: String, input: String) -> SelftestError {
        let cache = "the cache directory \(path)"
        let elsewhere = "point --cache-dir (or XDG_CACHE_HOME) at a directory you can write to"
        switch code {
        case ENOSPC, EDQUOT:
            return full(URL(fileURLWithPath: path), input: input)
        case ENOTDIR, EEXIST:
            let file = blockingFile(path) ?? path
            return SelftestError(
                .usage, "cannot make \(cache): \(file) is a file, not a directory",
                fix: elsewhere, domain: .cache, input: input)
        case EROFS:
            return SelftestError(
                .usage, "\(cache) is on a read-only filesystem", fix: elsewhere, domain: .cache,
                input: input)
        case EACCES, EPERM:
            return SelftestError(
                .usage, "cannot write in \(cache): permission denied",
                fix: elsewhere + ", or give this user write access to it", domain: .cache,
                input: input)
        default:
            return SelftestError(
                .usage, "cannot write in \(cache): \(String(cString: strerror(code)))",
                fix: elsewhere, domain: .cache, input: input)
        }
    }

    /// The first component of `path` that exists and is not a directory.
    static func blockingFile(_ path: String) -> String? {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            if stat(current, &st) != 0 { return nil }
            if st.st_mode & S_IFMT != S_IFDIR { return current }
        }
        return nil
    }

    /// The refusal for a full filesystem under `directory`: which one, what
    /// is left, and what a run needs.
    public static func full(_ directory: URL, input: String? = nil) -> SelftestError {
        let left = freeBytes(directory).map { "\($0 >> 20) MiB left" } ?? "no space left"
        return SelftestError(
            .environment,
            "the filesystem of the cache directory \(directory.path) ran out of space (\(left))",
            fix: "free space there, or point --cache-dir at a filesystem with room: a run "
                + "needs about \(estimatedRunMiB) MiB (an estimate), a kernel build "
                + "(--tree) several GiB more",
            domain: .cache, input: input ?? directory.path)
    }

    /// Bytes an unprivileged writer can still use on `directory`'s filesystem.
    static func freeBytes(_ directory: URL) -> Int? {
        var fs = statvfs()
        guard statvfs(directory.path, &fs) == 0 else { return nil }
        return Int(fs.f_bavail) * Int(fs.f_frsize)
    }

    /// Whether `error`, or one under it, is a write that found no space.
    static func isOutOfSpace(_ error: Error) -> Bool {
        if let cocoa = error as? CocoaError, cocoa.code == .fileWriteOutOfSpace { return true }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain && (ns.code == Int(ENOSPC) || ns.code == Int(EDQUOT)) {
            return true
        }
        if let under = ns.userInfo[NSUnderlyingErrorKey] as? Error { return isOutOfSpace(under) }
        return false
    }
}
