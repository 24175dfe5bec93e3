import Foundation
import Synchronization

/// Compiles `progs/NAME.bpf.c` for the BPF target, cached by content.
public struct ProgramCompiler: Sendable {
    public var progsDirectory: URL
    public var toolchain: Toolchain
    public var header: VmlinuxHeader
    public var cache: Cache
    public var runner: CommandRunning
    /// Remembers the objects' digests, against which a cached one is checked.
    public var digests: FileDigests
    /// Where a damaged cached object is said before it is rebuilt.
    public var note: @Sendable (String) -> Void

    /// The product of one compile: the object, or clang's complaint.
    public enum Product: Sendable {
        case object(URL, cached: Bool)
        case failed(String)
    }

    public init(
        progsDirectory: URL, toolchain: Toolchain, header: VmlinuxHeader, cache: Cache,
        runner: CommandRunning = SystemRunner(), digests: FileDigests = FileDigests(store: nil),
        note: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.progsDirectory = progsDirectory
        self.toolchain = toolchain
        self.header = header
        self.cache = cache
        self.runner = runner
        self.digests = digests
        self.note = note
    }

    /// The clang arguments for one program (CO-RE: BTF from -g, the
    /// kernel's types from vmlinux.h).
    public func arguments(source: String, output: String) -> [String] {
        [
            "-target", "bpf", "-D__TARGET_ARCH_x86", "-g", "-O2", "-Wall", "-Werror",
            "-Wno-unused-function", "-fno-color-diagnostics",
            "-I", header.directory.path, "-I", progsDirectory.path,
            "-I", toolchain.libbpfIncludeDirectory,
            "-c", source, "-o", output,
        ]
    }

    /// The cache key: the source, every local header, the text of vmlinux.h
    /// (not which kernel it came from), the compiler and the flags.
    func key(for name: String, source: Data) throws -> String {
        var hasher = SHA256()
        hasher.update(source)
        let headers = try FileManager.default.contentsOfDirectory(atPath: progsDirectory.path)
            .filter { $0.hasSuffix(".h") }.sorted()
        for file in headers {
            hasher.update(file)
            hasher.update(try Data(contentsOf: progsDirectory.appendingPathComponent(file)))
        }
        hasher.update(header.textDigest)
        hasher.update(toolchain.clangVersion)
        // The header's directory is named after its kernel; its text stands in.
        let flags = arguments(source: name, output: "").map {
            $0 == header.directory.path ? "vmlinux.h" : $0
        }
        hasher.update(flags.joined(separator: " "))
        hasher.update("\n" + Self.stripArguments.joined(separator: " "))
        if let libbpf = FileManager.default.contents(
            atPath: toolchain.libbpfIncludeDirectory + "/bpf/libbpf_version.h")
        {
            hasher.update(libbpf)
        }
        return hasher.finalize()
    }

    /// Compiles each named program (in parallel); a failure is a product,
    /// not an error.
    public func compile(_ names: [String]) throws -> [String: Product] {
        let results = Mutex<[String: Product]>([:])
        let errors = Mutex<[Error]>([])
        DispatchQueue.concurrentPerform(iterations: names.count) { index in
            do {
                let product = try compileOne(names[index])
                results.withLock { $0[names[index]] = product }
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        if let first = errors.withLock({ $0.first }) { throw first }
        return results.withLock { $0 }
    }

    func compileOne(_ name: String) throws -> Product {
        let source = progsDirectory.appendingPathComponent("\(name).bpf.c")
        guard let text = FileManager.default.contents(atPath: source.path) else {
            return .failed("no source file \(source.path)")
        }
        let object = cache.entry("progs", try key(for: name, source: text), "\(name).bpf.o")
        if Cache.intact(object, digests: digests, note: note) {
            return .object(object, cached: true)
        }
        var failure: String?
        do {
            try Cache.produceRecorded(object) { temp in
                let result = try runner.run(
                    Command(toolchain.clang, arguments(source: source.path, output: temp.path)),
                    timeout: 300)
                if !result.succeeded {
                    // A full cache is not the program's fault.
                    if result.stderrText.contains(String(cString: strerror(ENOSPC))) {
                        throw Cache.full(object.deletingLastPathComponent())
                    }
                    failure = Self.diagnostics(result.stderrText)
                    throw CompileFailed()
                }
                try stripDebug(temp, name: name)
            }
        } catch is CompileFailed {
            return .failed(failure ?? "clang failed")
        }
        return .object(object, cached: false)
    }

    /// What objcopy is told: drop the DWARF, keep `.BTF` and `.BTF.ext`.
    static let stripArguments = ["--strip-debug"]

    /// Takes the DWARF out of a fresh object. `-g` is there for the BTF
    /// that CO-RE and the verifier's line info need; the DWARF that comes
    /// with it is 95% of the object (780 KB of 820 KB for a program that
    /// includes vmlinux.h) and only a debugger on the host reads it. Every
    /// boot unpacks the objects in the guest, so it is left out, as libbpf's
    /// own examples (`llvm-strip -g`) and the kernel's selftests (`bpftool
    /// gen object`) leave it out.
    func stripDebug(_ object: URL, name: String) throws {
        let result = try runner.run(
            Command(toolchain.objcopy, Self.stripArguments + [object.path]), timeout: 60)
        guard result.succeeded else {
            throw SelftestError(
                .infrastructure, .runner,
                "\(toolchain.objcopy) could not take the DWARF out of \(name).bpf.o: "
                    + result.stderrText,
                fix: "install LLVM's objcopy (apt-get install llvm) or set SELFTESTS_OBJCOPY")
        }
    }

    /// clang's errors, first one first, bounded: the first error is what a
    /// developer needs; the rest are often its consequences.
    static func diagnostics(_ stderr: String, limit: Int = 40) -> String {
        let lines = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        let start = lines.firstIndex { $0.contains("error:") } ?? lines.startIndex
        return lines[start...].prefix(limit).joined(separator: "\n")
    }
}

private struct CompileFailed: Error {}
