import Foundation

/// The kernel under test: a bzImage, its identity, and where its BTF comes from.
public struct KernelImage: Sendable {
    /// The bzImage QEMU boots.
    public var path: String
    /// An uncompressed vmlinux with BTF, when one is at hand (a built tree);
    /// otherwise it is extracted from the bzImage.
    public var vmlinux: String?
    /// The release from the bzImage header, e.g. `6.12.117+deb12-cloud-amd64`.
    public var release: String?
    /// The whole version string of the header, `RELEASE (USER@HOST) #N …`:
    /// what tells two builds of one release apart.
    public var version: String?

    /// `input` is how the user named the image (`--kernel PATH`), for the
    /// messages; nil for the default kernel or one this runner built.
    public init(path: String, vmlinux: String? = nil, input: String? = nil) throws {
        let what = input ?? "the kernel image \(path)"
        let head = try Self.readHead(path, what: what, input: input)
        guard Self.isBzImage(head.data) else {
            throw SelftestError(
                .usage, "\(what) is not a bzImage (no \"HdrS\" boot header at 0x202)",
                fix: "pass the arch/x86/boot/bzImage of a build, or a /boot/vmlinuz-* file",
                domain: .kernelInput, input: input ?? path)
        }
        if let expected = Self.expectedSize(head.data), head.size < expected {
            throw SelftestError(
                .usage,
                "\(what) is truncated: \(head.size) bytes, where its boot header says \(expected)",
                fix: "copy the image again (the copy or download stopped early), or rebuild "
                    + "it with make bzImage", domain: .kernelInput, input: input ?? path)
        }
        self.path = path
        self.vmlinux = vmlinux
        self.version = Self.version(in: head.data)
        self.release = version.map { String($0.prefix { $0 != " " }) }
    }

    /// The first 64 KiB and the file's size; a missing, empty or unreadable
    /// file, or a directory, each said as what it is.
    static func readHead(_ path: String, what: String, input: String?) throws -> (
        data: Data, size: Int
    ) {
        let named = input ?? path
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw SelftestError(
                .usage, "\(what) does not exist",
                fix: "check the --kernel path, or run scripts/setup.sh for the default kernel",
                domain: .kernelInput, input: named)
        }
        if st.st_mode & S_IFMT == S_IFDIR {
            throw SelftestError(
                .usage, "\(what) is a directory, not a kernel image",
                fix: "pass the image file: arch/x86/boot/bzImage in a build directory, or "
                    + "a vmlinuz-* file in /boot", domain: .kernelInput, input: named)
        }
        if st.st_size == 0 {
            throw SelftestError(
                .usage, "\(what) is empty (0 bytes)",
                fix: "copy the image again (the copy or download did not finish), or rebuild "
                    + "it with make bzImage", domain: .kernelInput, input: named)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SelftestError(
                .usage, "cannot read \(what): \(String(cString: strerror(errno)))",
                fix: "make it readable by this user (chmod +r), or copy it somewhere readable",
                domain: .kernelInput, input: named)
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 1 << 16)) ?? Data()
        return (head, Int(st.st_size))
    }

    static func isBzImage(_ head: Data) -> Bool {
        head.count > 0x210 && head[0x202..<0x206].elementsEqual("HdrS".utf8)
    }

    /// The x86 boot protocol stores a pointer (minus 0x200) to the version
    /// string at 0x20e: `RELEASE (USER@HOST) UTS_VERSION`.
    static func version(in head: Data) -> String? {
        guard head.count > 0x210 else { return nil }
        let pointer = Int(head[0x20e]) | Int(head[0x20f]) << 8
        let start = pointer + 0x200
        guard pointer > 0, start < head.count else { return nil }
        let bytes = head[start...].prefix { $0 != 0 }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// How long the header says the file is: the real-mode setup
    /// (`setup_sects` at 0x1f1, 4 when 0, plus the boot sector) and the
    /// protected-mode payload (`syssize` at 0x1f4, in 16-byte units). A
    /// signed image carries its signature past that, so only shorter is wrong.
    static func expectedSize(_ head: Data) -> Int? {
        guard head.count > 0x1f8 else { return nil }
        let sectors = Int(head[0x1f1] == 0 ? 4 : head[0x1f1])
        let paragraphs = (0..<4).reduce(0) { $0 | Int(head[0x1f4 + $1]) << (8 * $1) }
        return (sectors + 1) * 512 + paragraphs * 16
    }

    /// The kernel's `.config`, where a build or a package leaves it: the
    /// `config-<version>` beside a packaged `vmlinuz-<version>`, or the
    /// `.config` of the build directory a `arch/x86/boot/bzImage` is in.
    public var configFile: String? {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        var candidates: [URL] = []
        if name.hasPrefix("vmlinuz-") {
            candidates.append(
                url.deletingLastPathComponent().appendingPathComponent(
                    "config-" + name.dropFirst("vmlinuz-".count)))
        }
        if path.hasSuffix("arch/x86/boot/bzImage") {
            candidates.append(
                url.deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().deletingLastPathComponent()
                    .appendingPathComponent(".config"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }?.path
    }

    /// The newest kernel `scripts/setup.sh` unpacked into the cache.
    public static func defaultKernel(cache: Cache) throws -> KernelImage {
        let dir = cache.entry("kernels")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let sorted = versions.filter { !$0.hasPrefix(".") }.sorted {
            $0.compare($1, options: .numeric) == .orderedAscending
        }
        for version in sorted.reversed() {
            let boot = dir.appendingPathComponent(version).appendingPathComponent("boot")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: boot.path)) ?? []
            if let image = files.first(where: { $0.hasPrefix("vmlinuz-") }) {
                return try KernelImage(path: boot.appendingPathComponent(image).path)
            }
        }
        throw SelftestError(
            .environment, "no default kernel in \(dir.path)",
            fix: "run scripts/setup.sh (it downloads Debian's cloud kernel), or pass --kernel PATH",
            domain: .kernelInput, input: dir.path)
    }
}
