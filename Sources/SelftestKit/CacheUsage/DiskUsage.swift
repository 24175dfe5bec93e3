import Foundation

/// Space on disk as `du` counts it: allocated blocks, not apparent size (a
/// sparse file costs what it holds), each hard-linked file once however
/// many names it has. One counter walks the whole cache so that a file
/// linked from two areas counts in the first only.
public final class DiskUsage {
    private struct Inode: Hashable {
        var device: UInt64
        var number: UInt64
    }
    private var seen: Set<Inode> = []

    public init() {}

    /// Bytes allocated under `path` (the file itself, or a directory and
    /// everything in it); symbolic links are not followed.
    public func allocated(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        var total: Int64 = 0
        if (st.st_mode & S_IFMT) != S_IFDIR && st.st_nlink > 1 {
            let inode = Inode(device: UInt64(st.st_dev), number: UInt64(st.st_ino))
            if !seen.insert(inode).inserted { return 0 }
        }
        total += Int64(st.st_blocks) * 512
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in Self.names(in: path) {
                total += allocated(path + "/" + name)
            }
        }
        return total
    }

    /// The entries of a directory, `.` and `..` left out; none if it
    /// cannot be read.
    static func names(in path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
