import Foundation

/// A file another process is still writing (QEMU's console log, the
/// results port), read from where the last read stopped: each byte once.
/// Lines are split on `\n` bytes, which never occur inside a UTF-8
/// sequence, so a line is decoded only once it is whole.
struct FileTail {
    let path: String
    private var handle: FileHandle?
    private var pending = Data()

    init(path: String) { self.path = path }

    /// The lines completed since the last call, each without `\n` and
    /// trailing `\r` (serial consoles send CRLF).
    mutating func newLines() -> [Substring] {
        if handle == nil { handle = FileHandle(forReadingAtPath: path) }
        guard let handle, let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        pending.append(data)
        guard let last = pending.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let whole = pending[pending.startIndex..<last]
        pending = Data(pending[(last + 1)...])
        return whole.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            Self.line($0)
        }
    }

    /// The lines completed since the last call and the last one, which the
    /// writer did not end with `\n`. The file is closed: the writer is gone.
    mutating func finalLines() -> [Substring] {
        var lines = newLines()
        if !pending.isEmpty { lines.append(Self.line(pending)) }
        pending = Data()
        try? handle?.close()
        handle = nil
        return lines
    }

    private static func line(_ bytes: Data) -> Substring {
        var text = String(decoding: bytes, as: UTF8.self)[...]
        while text.last == "\r" { text = text.dropLast() }
        return text
    }
}
