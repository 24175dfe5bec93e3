import Foundation

/// The kernel under test: a bzImage, its identity, and where its BTF comes from.
public struct KernelImage: Sendable {
    /// The bzImage QEMU boots.
    public var path: String
    /// An uncompressed vmlinux with BTF, when one is at hand (a built tree);
    /// otherwise it is extracted from the bzImage.
    public var vmlinux: String?
    /// The version string from the bzImage header, e.g. `6.12.117+deb12-cloud-amd64`.
    public var release: String?

    public init(path: String, vmlinux: String? = nil) throws {
        let data = try Self.readHead(path)
        guard Self.isBzImage(data) else {
            throw SelftestError(
                .usage, "\(path) is not a bzImage (no \"HdrS\" boot header at 0x202)",
                fix: "pass the arch/x86/boot/bzImage of a build, or a /boot/vmlinuz-* file")
        }
        self.path = path
        self.vmlinux = vmlinux
        self.release = Self.release(in: data)
    }

    static func readHead(_ path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
            !isDirectory.boolValue
        else {
            throw SelftestError(
                .usage, "kernel image \(path) does not exist",
                fix: "check the --kernel path, or run scripts/setup.sh for the default kernel")
        }
        guard let handle = FileHandle(forReadingAtPath: path),
            let head = try handle.read(upToCount: 1 << 16)
        else { throw SelftestError(.usage, "cannot read kernel image \(path)") }
        try? handle.close()
        return head
    }

    static func isBzImage(_ head: Data) -> Bool {
        head.count > 0x210 && head[0x202..<0x206].elementsEqual("HdrS".utf8)
    }

    /// The x86 boot protocol stores a pointer (minus 0x200) to the version
    /// string at 0x20e; its first word is the release.
    static func release(in head: Data) -> String? {
        guard head.count > 0x210 else { return nil }
        let pointer = Int(head[0x20e]) | Int(head[0x20f]) << 8
        let start = pointer + 0x200
        guard pointer > 0, start < head.count else { return nil }
        let bytes = head[start...].prefix { $0 != 0 && $0 != 0x20 }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
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
            fix: "run scripts/setup.sh (it downloads Debian's cloud kernel), or pass --kernel PATH")
    }
}
