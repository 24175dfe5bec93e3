import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// `--kernel` and `--vmlinux`: each way a file can be wrong gets its own
/// refusal, naming the option as the user wrote it, before anything runs.
/// Most read the default kernel that scripts/setup.sh installs.
extension NeedsTools {
    @Suite(.tags(.needsTools)) final class KernelInputTests {
        /// Each test's own directory, removed when it ends.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kernel-input-\(UUID())")

        init() throws {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: scratch) }

        static func fixture(_ name: String) throws -> Data {
            let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            return try Data(contentsOf: root.appendingPathComponent("kernel/\(name)"))
        }

        func scratchFile(_ name: String, _ data: Data) throws -> String {
            let url = scratch.appendingPathComponent(name)
            try data.write(to: url)
            return url.path
        }

        static var defaultKernel: KernelImage {
            get throws { try KernelImage.defaultKernel(cache: Cache(root: Cache.defaultRoot())) }
        }

        /// A directory, an empty file and a really truncated copy of the real
        /// image: three refusals, each its own message, each naming --kernel.
        @Test func aDirectoryAnEmptyFileAndATruncatedImageEachSayWhatTheyAre() throws {
            let image = try Data(contentsOf: URL(fileURLWithPath: Self.defaultKernel.path))
            let paths = [
                scratch.path,
                try scratchFile("empty", Data()),
                try scratchFile("truncated", image.prefix(image.count / 2)),
                "/no/such/bzImage",
            ]
            var messages: Set<String> = []
            for path in paths {
                let input = "--kernel \(path)"
                let error = try #require(refusal { _ = try KernelImage(path: path, input: input) })
                #expect(error.kind == .usage, "\(path)")
                #expect(error.domain == .kernelInput, "\(path)")
                #expect(error.input == input)
                #expect(error.fix != nil)
                messages.insert(error.message)
            }
            #expect(messages.count == paths.count, "two inputs share a message: \(messages)")
        }

        /// The boot header's size is the file's size for both real images; a
        /// signed image may be longer, never shorter.
        @Test func theBootHeaderGivesTheImagesSize() throws {
            let path = try Self.defaultKernel.path
            let image = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(KernelImage.expectedSize(image.prefix(1 << 16)) == image.count)
        }

        /// Not an ELF, an ELF without BTF, a directory: each blames --vmlinux,
        /// not the kernel.
        @Test func aVmlinuxThatIsNoKernelELFIsBlamedByName() throws {
            let kernel = try Self.defaultKernel
            let text = try scratchFile("text", Data("not a kernel\n".utf8))
            var messages: Set<String> = []
            for path in ["/bin/ls", text, scratch.path, "/no/such/vmlinux"] {
                let error = try #require(
                    refusal { try VmlinuxFile.check(path, against: kernel) }, "\(path)")
                #expect(error.kind == .usage)
                #expect(error.domain == .kernelInput)
                #expect(error.input == "--vmlinux \(path)")
                messages.insert(error.message)
            }
            #expect(messages.count == 4, "\(messages)")
        }

        /// The version in a real bzImage header against the banner in its own
        /// build's vmlinux: the same build once the compiler is dropped, and a
        /// different one against Debian's image.
        @Test func theBannerOfTheSameBuildMatchesTheImagesVersion() throws {
            let head = try Self.fixture("bpf-minimal-bzImage.head")
            let banners = VmlinuxFile.banners(in: try Self.fixture("bpf-minimal-vmlinux.rodata"))
            #expect(banners.count == 1)
            let version = try #require(VmlinuxFile.imageVersion(fromBanner: banners[0]))
            #expect(version == KernelImage.version(in: head))
            #expect(try Self.defaultKernel.version != version)
        }

        /// Debian's own vmlinux, extracted from its image, is accepted: one of
        /// its two banners is the image's version.
        @Test func theImagesOwnVmlinuxIsAccepted() throws {
            let kernel = try Self.defaultKernel
            let vmlinux = scratch.appendingPathComponent("vmlinux").path
            try VmlinuxExtractor.extract(from: kernel.path, to: vmlinux, runner: SystemRunner())
            try VmlinuxFile.check(vmlinux, against: kernel)
        }
    }
}

/// Which kernels QEMU boots through their PVH entry, from the real notes
/// of two vmlinux files.
@Suite(.tags(.unit)) struct PVHKernelTests {
    static func notes(_ name: String) throws -> [(name: String, type: UInt32)] {
        let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return PVHKernel.notes(
            in: try Data(contentsOf: root.appendingPathComponent("kernel/\(name)")))
    }

    @Test func debiansCloudKernelHasThePVHEntry() throws {
        let notes = try Self.notes("debian-6.12-cloud-vmlinux.notes")
        #expect(notes.contains { $0.name == "Xen" && $0.type == PVHKernel.phys32Entry })
        #expect(notes.contains { $0.name == "GNU" }, "and the build ID, read past the Xen notes")
    }

    @Test func bpfMinimalHasNone() throws {
        let notes = try Self.notes("bpf-minimal-vmlinux.notes")
        #expect(notes.map(\.name) == ["GNU", "Linux", "Linux"])
        #expect(!notes.contains { $0.type == PVHKernel.phys32Entry && $0.name == "Xen" })
    }

    @Test func aFileThatIsNoELFHasNoEntry() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "not-elf-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("MZ, a bzImage's first bytes".utf8).write(to: file)
        #expect(!PVHKernel.hasEntry(file.path))
        #expect(!PVHKernel.hasEntry("/nonexistent/vmlinux"))
        #expect(PVHKernel.notes(in: Data([1, 2, 3])).isEmpty, "a cut note reads as none")
    }
}
