import Foundation

/// The host tools the test_progs build needs, checked up front.
struct TestProgsTools: Sendable {
    var make: String
    var rsync: String
    /// `-19` for Debian's clang-19 (make's `LLVM=` picks clang-19, llc-19…).
    var llvmSuffix: String

    static func discover(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> TestProgsTools
    {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        var missing: [Toolchain.Missing] = []
        let make = Toolchain.which("make", path: path)
        if make == nil { missing.append(.init(what: "make", package: "make")) }
        let rsync = Toolchain.which("rsync", path: path)
        if rsync == nil { missing.append(.init(what: "rsync", package: "rsync")) }
        let tools: [(tool: String, package: String)] = [
            ("clang-19", "clang-19"), ("llc-19", "llvm-19"), ("llvm-strip-19", "llvm-19"),
            ("llvm-objcopy-19", "llvm-19"), ("ld.lld-19", "lld-19"), ("objcopy", "binutils"),
            ("strip", "binutils"),
        ]
        for (tool, package) in tools where Toolchain.which(tool, path: path) == nil {
            missing.append(.init(what: tool, package: package))
        }
        for (header, package) in [
            ("/usr/include/libelf.h", "libelf-dev"), ("/usr/include/zlib.h", "zlib1g-dev"),
            ("/usr/include/zstd.h", "libzstd-dev"), ("/usr/include/sys/capability.h", "libcap-dev"),
        ] where !FileManager.default.fileExists(atPath: header) {
            missing.append(
                .init(what: URL(fileURLWithPath: header).lastPathComponent, package: package))
        }
        if !missing.isEmpty { throw Toolchain.missingError(missing) }
        return TestProgsTools(make: make!, rsync: rsync!, llvmSuffix: "-19")
    }
}
