import Foundation

/// A cache entry's size and SHA-256 as it was written, kept beside it as
/// `.NAME.digest`, so that an entry damaged since (emptied, truncated,
/// overwritten) is rebuilt instead of trusted: an emptied vmlinux.h used to
/// turn every program into a `build-error` blamed on its own source.
public struct CacheEntryRecord: Codable, Equatable, Sendable {
    public var size: Int
    public var sha256: String
}

extension Cache {
    /// Whether an entry is there and is what was written.
    public enum EntryState: Equatable, Sendable {
        case missing
        case intact
        /// There, but not as written; the reason, for the note.
        case damaged(String)
    }

    static func recordURL(_ url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).digest")
    }

    /// As `produce`, recording the product's size and digest; the record is
    /// in place before the entry appears under its name. (Hashed directly:
    /// `FileDigests` would remember the temporary name, which never recurs.)
    public static func produceRecorded(_ url: URL, _ make: (URL) throws -> Void) throws {
        try produce(url) { temp in
            try make(temp)
            let digest = try FileDigests.sha256sum(temp.path) ?? FileDigests.hash(temp.path)
            let record = CacheEntryRecord(size: try size(of: temp), sha256: digest)
            try write(try DocumentJSON.data(record), to: recordURL(url))
        }
    }

    /// Writes `data` to `url` atomically, with its record.
    public static func writeRecorded(_ data: Data, to url: URL) throws {
        try produceRecorded(url) { try data.write(to: $0) }
    }

    /// The entry at `url` against its record. The digest comes through
    /// `digests`, which remembers it by path, size, mtime and inode: a
    /// cached run does not read its entries again.
    public static func verify(_ url: URL, digests: FileDigests) -> EntryState {
        guard exists(url) else { return .missing }
        guard let data = try? Data(contentsOf: recordURL(url)),
            let record = try? DocumentJSON.decode(CacheEntryRecord.self, from: data)
        else {
            return .damaged("no record of its size and digest (written by an older selftests)")
        }
        guard let size = try? size(of: url), size == record.size else {
            let now = (try? size(of: url)).map { "\($0)" } ?? "no"
            return .damaged("damaged: \(now) bytes, \(record.size) when written")
        }
        guard (try? digests.digest(of: url.path)) == record.sha256 else {
            return .damaged("damaged: its SHA-256 is not the one recorded when it was written")
        }
        return .intact
    }

    /// Whether the entry at `url` can be used as it is. A damaged one is
    /// said through `note`; the caller rebuilds it, and the rebuilt entry
    /// replaces it atomically (removing it first could pull it from under
    /// another run that just wrote it).
    public static func intact(
        _ url: URL, digests: FileDigests, note: (String) -> Void
    ) -> Bool {
        switch verify(url, digests: digests) {
        case .missing: return false
        case .intact: return true
        case .damaged(let why):
            note("cache entry \(url.path): \(why); rebuilding it")
            return false
        }
    }

    static func size(of url: URL) throws -> Int {
        var st = stat()
        guard stat(url.path, &st) == 0 else {
            throw SelftestError(
                .infrastructure, "cannot stat \(url.path): \(String(cString: strerror(errno)))",
                domain: .cache, input: url.path)
        }
        return Int(st.st_size)
    }
}
