import Foundation

/// The uncompressed vmlinux QEMU boots straight into through the kernel's
/// PVH entry point (CONFIG_PVH, an ELF note `Xen` of type
/// XEN_ELFNOTE_PHYS32_ENTRY), instead of the bzImage: no firmware real-mode
/// setup and no decompression, both slow under TCG. The floor initramfs on
/// Debian's 6.12 cloud kernel booted in 3.45 s this way against 4.97 s from
/// the bzImage (medians of 5, side by side). The kernel then starts where
/// it was linked (the decompressor's KASLR is skipped); its code, config and
/// command line are the same.
public enum PVHKernel {
    /// XEN_ELFNOTE_PHYS32_ENTRY (include/xen/interface/elfnote.h).
    static let phys32Entry: UInt32 = 18

    /// The vmlinux to boot `kernel` from, or nil to boot its image: its
    /// `--vmlinux` (a tree build's), or the one inside the image, extracted
    /// once into the cache under the image's digest; either only when it
    /// has the PVH entry.
    public static func vmlinux(
        for kernel: KernelImage, cache: Cache, digests: FileDigests, runner: CommandRunning
    ) -> URL? {
        if let given = kernel.vmlinux {
            return hasEntry(given) ? URL(fileURLWithPath: given) : nil
        }
        guard let digest = try? digests.digest(of: kernel.path) else { return nil }
        let dir = cache.entry("pvh", digest)
        let vmlinux = dir.appendingPathComponent("vmlinux")
        // A kernel without the entry is remembered as such, not re-extracted.
        let none = dir.appendingPathComponent("no-pvh-entry")
        if Cache.exists(none) { return nil }
        if Cache.intact(vmlinux, digests: digests, note: { _ in }) { return vmlinux }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let scratch = dir.appendingPathComponent(".vmlinux-\(getpid())")
            defer { try? FileManager.default.removeItem(at: scratch) }
            try VmlinuxExtractor.extract(from: kernel.path, to: scratch.path, runner: runner)
            guard hasEntry(scratch.path) else {
                try Cache.write(Data(), to: none)
                return nil
            }
            try Cache.writeRecorded(try Data(contentsOf: scratch), to: vmlinux)
            return vmlinux
        } catch {
            // The image boots as before; this is only the faster way in.
            return nil
        }
    }

    /// Whether the ELF file at `path` carries the PVH entry note.
    public static func hasEntry(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let sections = try? VmlinuxFile.sections(of: handle),
            let notes = sections[".notes"],
            (try? handle.seek(toOffset: UInt64(notes.offset))) != nil,
            let data = try? handle.read(upToCount: notes.size)
        else { return false }
        return Self.notes(in: data).contains { $0.name == "Xen" && $0.type == phys32Entry }
    }

    /// The notes of an ELF note section: name (NUL-terminated) and type.
    static func notes(in data: Data) -> [(name: String, type: UInt32)] {
        let bytes = [UInt8](data)
        func word(_ at: Int) -> Int {
            Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16
                | Int(bytes[at + 3]) << 24
        }
        func aligned(_ n: Int) -> Int { (n + 3) & ~3 }
        var notes: [(name: String, type: UInt32)] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let (nameSize, descSize, type) = (word(offset), word(offset + 4), word(offset + 8))
            let nameEnd = offset + 12 + nameSize
            guard nameEnd <= bytes.count else { break }
            let name = bytes[(offset + 12)..<nameEnd].prefix { $0 != 0 }
            notes.append((String(decoding: name, as: UTF8.self), UInt32(truncatingIfNeeded: type)))
            offset = offset + 12 + aligned(nameSize) + aligned(descSize)
        }
        return notes
    }
}
