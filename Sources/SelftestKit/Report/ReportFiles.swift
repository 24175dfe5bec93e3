import Foundation

/// The report files a command writes (`--junit`, `--json`, …), checked
/// before anything runs so that a long run's result is never lost to a
/// directory that does not exist, and written so that a file that still
/// cannot be written at the end costs that file only, not the run's status.
public enum ReportFiles {
    /// One option's file: `("--junit", "out/junit.xml")`.
    public typealias Target = (option: String, path: String?)

    /// Refuses, naming the option, a file whose directory does not exist or
    /// cannot be written, or a path that is a directory.
    public static func check(_ files: [Target]) throws {
        for case let (option, path?) in files {
            let url = URL(fileURLWithPath: path)
            if isDirectory(url.path) {
                throw SelftestError(
                    .usage, "\(path) is a directory, not a file", fix: "name a file in it",
                    domain: .reports, input: "\(option) \(path)")
            }
            try checkWritable(url.deletingLastPathComponent(), option: option, path: path)
        }
    }

    /// For an option naming a directory the command fills (`memory
    /// --output`): it exists and is writable, or its parent is.
    public static func checkDirectory(option: String, path: String) throws {
        let url = URL(fileURLWithPath: path)
        if FileManager.default.fileExists(atPath: url.path) && !isDirectory(url.path) {
            throw SelftestError(
                .usage, "\(path) is a file, not a directory",
                fix: "name a directory (it is created if missing)", domain: .reports,
                input: "\(option) \(path)")
        }
        let existing = isDirectory(url.path) ? url : url.deletingLastPathComponent()
        try checkWritable(existing, option: option, path: path)
    }

    private static func checkWritable(_ directory: URL, option: String, path: String) throws {
        let dir = directory.path
        guard isDirectory(dir) else {
            throw SelftestError(
                .usage, "the directory \(dir) does not exist",
                fix: "create it first (mkdir -p '\(dir)'), or write the report elsewhere",
                domain: .reports, input: "\(option) \(path)")
        }
        guard access(dir, W_OK) == 0 else {
            throw SelftestError(
                .usage, "cannot write in \(dir): \(String(cString: strerror(errno)))",
                fix: "choose a directory you can write to", domain: .reports,
                input: "\(option) \(path)")
        }
    }

    /// Writes each report (atomically: never half a file). A file that
    /// cannot be written is said on stderr, naming it and why, and left out;
    /// the others are still written. Returns the options that failed.
    @discardableResult
    public static func write(
        _ files: [(option: String, path: String?, data: () throws -> Data)],
        say: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) -> [String] {
        var failed: [String] = []
        for case let (option, path?, data) in files {
            do {
                try data().write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                failed.append(option)
                say("selftests: could not write \(option) \(path): \(reason(error))")
            }
        }
        return failed
    }

    /// The system's words for a failed write ("No such file or directory"),
    /// not Foundation's error dump.
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
            posix.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        // Foundation on Linux turns errno into these codes and drops errno.
        let errnos: [CocoaError.Code: Int32] = [
            .fileNoSuchFile: ENOENT, .fileWriteNoPermission: EACCES,
            .fileReadNoPermission: EACCES, .fileWriteOutOfSpace: ENOSPC,
            .fileWriteVolumeReadOnly: EROFS, .fileWriteFileExists: EEXIST,
        ]
        if let cocoa = error as? CocoaError, let code = errnos[cocoa.code] {
            return String(cString: strerror(code))
        }
        if let selftest = error as? SelftestError { return selftest.message }
        return ns.localizedDescription
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }
}
