import Foundation

/// `selftests memory --compare REF`: the stored table REF names, found
/// before anything runs so that a REF that names nothing costs no boot.
public enum MemoryReference {
    /// The stored table of `ref` in `cache`'s history. A history with no
    /// memory table, or a REF that matches none, is a usage error naming
    /// REF and the fix. A path to an image is matched by its digest.
    public static func resolve(_ ref: String, cache: Cache) throws -> StoredMemory {
        let input = "--compare \(ref)"
        guard let store = try HistoryStore.existing(in: cache), try store.memoryRunCount() > 0
        else {
            throw SelftestError(
                .usage, .options,
                "--compare: the results history in \(cache.root.path) holds no memory table",
                input: input,
                fix: "run `selftests memory` (without --no-history) on the kernel to compare "
                    + "with first; then --compare its kernel, commit or run id")
        }
        var candidates = [ref]
        if FileManager.default.fileExists(atPath: ref) {
            let path = URL(fileURLWithPath: ref).standardizedFileURL.path
            candidates = [path] + ((try? FileDigests.hash(path)).map { [$0] } ?? [])
        }
        for candidate in candidates {
            if let found = try store.memory(matching: candidate) { return found }
        }
        throw SelftestError(
            .usage, .options, "--compare \(ref) names no run with a memory table in the history",
            input: input,
            fix: "give a run id, a kernel (image path, digest prefix or release) or a tree "
                + "commit (7+ hex digits) that `selftests memory` ran on; `selftests history` "
                + "lists what was recorded")
    }
}
