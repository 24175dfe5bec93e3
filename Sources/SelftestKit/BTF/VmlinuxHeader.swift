import Foundation

/// Produces `vmlinux.h` from the kernel under test's own BTF, cached by the
/// kernel's content hash.
public struct VmlinuxHeader: Sendable {
    /// The directory holding `vmlinux.h` (pass it to clang with -I).
    public var directory: URL
    /// The digest of the kernel image that keyed it.
    public var kernelDigest: String
    /// The digest of the header's text: part of every program's cache key.
    /// Most patches leave the kernel's types alone, and then a new kernel
    /// gives the same text and every program stays compiled.
    public var textDigest: String
    public var cached: Bool

    public static func make(
        for kernel: KernelImage, toolchain: Toolchain, cache: Cache, digests: FileDigests,
        runner: CommandRunning = SystemRunner(), note: (String) -> Void = { _ in }
    ) throws -> VmlinuxHeader {
        // Keyed on the image, which holds the BTF: hashing a vmlinux with
        // its DWARF would cost seconds per kernel for nothing more.
        let digest = try digests.digest(of: kernel.path)
        let dir = cache.entry("btf", digest)
        let header = dir.appendingPathComponent("vmlinux.h")
        if Cache.intact(header, digests: digests, note: note) {
            return VmlinuxHeader(
                directory: dir, kernelDigest: digest,
                textDigest: try digests.digest(of: header.path), cached: true)
        }
        let scratch = try Scratch.directory(in: cache.directory("tmp"), prefix: "btf")
        defer { Scratch.remove(scratch) }
        let vmlinux: String
        if let given = kernel.vmlinux {
            vmlinux = given
        } else {
            vmlinux = scratch.appendingPathComponent("vmlinux").path
            try VmlinuxExtractor.extract(from: kernel.path, to: vmlinux, runner: runner)
        }
        let dump = try runner.run(
            Command(toolchain.bpftool, ["btf", "dump", "file", vmlinux, "format", "c"]),
            timeout: 120)
        guard dump.succeeded, dump.stdout.count > 1000 else {
            // The scratch path means nothing to the user; the file it came from does.
            let said = dump.stderrText.replacingOccurrences(of: vmlinux, with: "vmlinux")
                .trimmingCharacters(in: .whitespacesAndNewlines).prefix(400)
            let input = kernel.vmlinux.map { "--vmlinux \($0)" } ?? kernel.path
            throw SelftestError(
                .usage, "\(input) has no usable BTF (bpftool btf dump said: \(said))",
                fix: "use a kernel built with CONFIG_DEBUG_INFO_BTF=y", domain: .kernelInput,
                input: input)
        }
        try Cache.writeRecorded(dump.stdout, to: header)
        return VmlinuxHeader(
            directory: dir, kernelDigest: digest, textDigest: SHA256.hex(bytes: dump.stdout),
            cached: false)
    }
}

/// Extracts the uncompressed ELF vmlinux from a bzImage, as the kernel's
/// scripts/extract-vmlinux does: find the compressed payload by its magic
/// and decompress from there.
public enum VmlinuxExtractor {
    /// Compression magics, most common on current distributions first.
    static let formats: [(magic: [UInt8], tool: String, args: [String])] = [
        ([0x28, 0xb5, 0x2f, 0xfd], "zstd", ["-dcq"]),
        ([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz", ["-dcq"]),
        ([0x1f, 0x8b, 0x08], "gzip", ["-dcq"]),
        ([0x02, 0x21, 0x4c, 0x18], "lz4", ["-dcq"]),
    ]

    public static func extract(from image: String, to output: String, runner: CommandRunning) throws
    {
        guard let data = FileManager.default.contents(atPath: image) else {
            throw SelftestError(.usage, "cannot read \(image)")
        }
        for format in formats {
            var searchFrom = data.startIndex
            // A magic can appear by chance; try each occurrence until one
            // decompresses to an ELF file.
            for _ in 0..<8 {
                guard let range = data.range(of: Data(format.magic), in: searchFrom..<data.endIndex)
                else { break }
                searchFrom = range.upperBound
                let result = try runner.run(
                    Command(format.tool, format.args), stdin: data[range.lowerBound...],
                    timeout: 120)
                // Trailing bytes after the payload make the tool exit non-zero;
                // the output is what counts.
                if result.stdout.starts(with: [0x7f, 0x45, 0x4c, 0x46]) {
                    try Cache.write(result.stdout, to: URL(fileURLWithPath: output))
                    return
                }
            }
        }
        throw SelftestError(
            .usage, "found no compressed vmlinux inside \(image)",
            fix: "pass the vmlinux of the build with --vmlinux, next to --kernel")
    }
}
