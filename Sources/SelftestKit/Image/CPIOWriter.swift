import Foundation

/// Writes a newc ("070701") cpio archive, the format the kernel unpacks as
/// an initramfs. Device nodes and symlinks need no privileges to write here,
/// unlike with the cpio tool on a real tree.
public struct CPIOWriter {
    public private(set) var data = Data()
    private var inode: UInt32 = 1

    public init() {}

    public mutating func directory(_ path: String, mode: UInt32 = 0o755) {
        entry(path, mode: 0o040000 | mode, body: Data())
    }

    public mutating func file(_ path: String, contents: Data, mode: UInt32 = 0o644) {
        entry(path, mode: 0o100000 | mode, body: contents)
    }

    public mutating func symlink(_ path: String, target: String) {
        entry(path, mode: 0o120777, body: Data(target.utf8))
    }

    public mutating func characterDevice(
        _ path: String, major: UInt32, minor: UInt32, mode: UInt32 = 0o600
    ) {
        entry(path, mode: 0o020000 | mode, body: Data(), rdev: (major, minor))
    }

    /// Ends the archive with the trailer entry.
    public mutating func finish() -> Data {
        entry("TRAILER!!!", mode: 0, body: Data(), countsAsInode: false)
        return data
    }

    private mutating func entry(
        _ path: String, mode: UInt32, body: Data, rdev: (UInt32, UInt32) = (0, 0),
        countsAsInode: Bool = true
    ) {
        let name = path.hasPrefix("/") ? String(path.dropFirst()) : path
        let nameBytes = Array(name.utf8) + [0]
        let fields: [UInt32] = [
            countsAsInode ? inode : 0, mode, 0, 0, mode & 0o040000 != 0 ? 2 : 1, 0,
            UInt32(body.count), 0, 0, rdev.0, rdev.1, UInt32(nameBytes.count), 0,
        ]
        if countsAsInode { inode += 1 }
        var header = "070701"
        for field in fields {
            let hex = String(field, radix: 16, uppercase: true)
            header += String(repeating: "0", count: 8 - hex.count) + hex
        }
        data.append(contentsOf: header.utf8)
        data.append(contentsOf: nameBytes)
        pad()
        data.append(body)
        pad()
    }

    private mutating func pad() {
        while data.count % 4 != 0 { data.append(0) }
    }
}
