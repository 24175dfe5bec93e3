import Foundation

/// A vmlinux given with `--vmlinux`: checked, before anything is built from
/// it, to be an x86-64 ELF with a `.BTF` section from the same build as the
/// `--kernel` image. BTF from another build compiles the programs against
/// the wrong struct layouts, and nothing later would say why.
public enum VmlinuxFile {
    /// Refuses `path` unless it is the vmlinux of `image`'s build.
    public static func check(_ path: String, against image: KernelImage) throws {
        let input = "--vmlinux \(path)"
        func refuse(_ message: String, fix: String = notAVmlinuxFix) -> SelftestError {
            SelftestError(.usage, message, fix: fix, domain: .kernelInput, input: input)
        }
        var st = stat()
        guard stat(path, &st) == 0 else { throw refuse("\(input) does not exist") }
        if st.st_mode & S_IFMT == S_IFDIR { throw refuse("\(input) is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw refuse(
                "cannot read \(input): \(String(cString: strerror(errno)))",
                fix: "make it readable by this user (chmod +r)")
        }
        defer { try? handle.close() }
        guard let sections = try sections(of: handle) else {
            throw refuse("\(input) is not an x86-64 ELF file, so it is no vmlinux")
        }
        guard sections[".BTF"] != nil else {
            throw refuse(
                "\(input) has no .BTF section",
                fix: "build the kernel with CONFIG_DEBUG_INFO_BTF=y, or leave out --vmlinux "
                    + "to use the BTF inside the image")
        }
        let versions =
            try sections[".rodata"].map { banners(in: try read(handle, $0)) }?
            .compactMap(imageVersion(fromBanner:)) ?? []
        guard let version = versions.last else {
            throw refuse("\(input) holds no \"Linux version\" banner: it is no kernel")
        }
        if let expected = image.version, !versions.contains(expected) {
            throw refuse(
                "\(input) is from another kernel build than \(image.path)",
                fix: "pass the vmlinux from the build directory the image came from "
                    + "(vmlinux says '\(version)', the image '\(expected)'), or leave out "
                    + "--vmlinux")
        }
    }

    static let notAVmlinuxFix =
        "pass the vmlinux at the top of the kernel's build directory (not the bzImage), or "
        + "leave out --vmlinux to use the BTF inside the image"

    /// The section table of a little-endian x86-64 ELF file, by name; nil if
    /// the file is not one.
    static func sections(of handle: FileHandle) throws -> [String: (offset: Int, size: Int)]? {
        let header = try handle.read(upToCount: 64) ?? Data()
        guard header.count == 64, header.starts(with: [0x7f, 0x45, 0x4c, 0x46]),
            header[4] == 2, header[5] == 1, integer(header, 0x12, 2) == 62
        else { return nil }
        let tableOffset = integer(header, 0x28, 8)
        let entrySize = integer(header, 0x3a, 2)
        let count = integer(header, 0x3c, 2)
        let namesIndex = integer(header, 0x3e, 2)
        guard entrySize >= 64, namesIndex < count else { return nil }
        let table = try read(handle, (tableOffset, entrySize * count))
        guard table.count == entrySize * count else { return nil }
        let entries = (0..<count).map { index in
            let base = index * entrySize
            return (
                name: integer(table, base, 4), offset: integer(table, base + 0x18, 8),
                size: integer(table, base + 0x20, 8)
            )
        }
        let names = try read(handle, (entries[namesIndex].offset, entries[namesIndex].size))
        var result: [String: (offset: Int, size: Int)] = [:]
        for entry in entries where entry.name < names.count {
            let bytes = names[entry.name...].prefix { $0 != 0 }
            result[String(decoding: bytes, as: UTF8.self)] = (entry.offset, entry.size)
        }
        return result
    }

    /// The kernel's `linux_banner`s: `Linux version RELEASE (USER@HOST)
    /// (COMPILER) UTS_VERSION`, each such string whose release starts with a
    /// digit. A distribution kernel can hold two: init/version.c's weak one,
    /// compiled without the build number, and the one the link stamps.
    static func banners(in data: Data) -> [String] {
        let needle = Array("Linux version ".utf8)
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String] in
            guard let base = raw.baseAddress else { return [] }
            var found: [String] = []
            var offset = 0
            // memchr finds each 'L' at C speed; .rodata is megabytes.
            while offset < raw.count,
                let hit = memchr(base + offset, Int32(needle[0]), raw.count - offset)
            {
                let start = UnsafeRawPointer(hit) - base
                offset = start + 1
                guard raw.count - start > needle.count,
                    raw[start..<start + needle.count].elementsEqual(needle),
                    (0x30...0x39).contains(raw[start + needle.count])
                else { continue }
                let end = raw[start...].firstIndex { $0 == 0 || $0 == 0x0a } ?? raw.count
                found.append(String(decoding: raw[start..<end], as: UTF8.self))
                offset = end
            }
            return found
        }
    }

    /// The banner as the bzImage header writes the same build's version:
    /// `RELEASE (USER@HOST) UTS_VERSION`, without the compiler in between.
    public static func imageVersion(fromBanner banner: String) -> String? {
        let prefix = "Linux version "
        guard banner.hasPrefix(prefix) else { return nil }
        var rest = banner.dropFirst(prefix.count).prefix { $0 != "\n" }
        guard let space = rest.firstIndex(of: " ") else { return nil }
        let release = rest[..<space]
        rest = rest[space...].drop { $0 == " " }
        guard let builder = group(&rest) else { return nil }
        rest = rest.drop { $0 == " " }
        // `(gcc (Debian 12.2.0-14) 12.2.0, GNU ld … 2.40)`: only the banner has it.
        if rest.first == "(", group(&rest) != nil { rest = rest.drop { $0 == " " } }
        return "\(release) \(builder) \(rest)"
    }

    /// A parenthesized group at the start of `text`, nested ones inside it;
    /// `text` is left after it.
    private static func group(_ text: inout Substring) -> Substring? {
        guard text.first == "(" else { return nil }
        var depth = 0
        for index in text.indices {
            if text[index] == "(" { depth += 1 }
            if text[index] == ")" {
                depth -= 1
                if depth == 0 {
                    defer { text = text[text.index(after: index)...] }
                    return text[...index]
                }
            }
        }
        return nil
    }

    private static func read(_ handle: FileHandle, _ range: (offset: Int, size: Int)) throws
        -> Data
    {
        try handle.seek(toOffset: UInt64(range.offset))
        return try handle.read(upToCount: range.size) ?? Data()
    }

    /// A little-endian unsigned integer of `width` bytes at `offset`.
    private static func integer(_ data: Data, _ offset: Int, _ width: Int) -> Int {
        let base = data.startIndex + offset
        return (0..<width).reduce(0) { $0 | Int(data[base + $1]) << (8 * $1) }
    }
}
