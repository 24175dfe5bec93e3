import Foundation

/// The host tools a kernel build needs, found and checked once up front, and
/// the environment that makes rebuilds reproducible enough for ccache.
public struct BuildTools: Sendable, Equatable {
    public var make: String
    /// `ccache gcc` when ccache is installed, else `gcc`.
    public var compiler: String
    public var ccache: String?
    public var git: String?

    /// Finds every tool; throws one error naming all that are missing and
    /// the apt command that installs them.
    public static func discover(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws -> BuildTools {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        var missing: [Toolchain.Missing] = []
        var found: [String: String] = [:]
        let needed: [(tool: String, package: String)] = [
            ("make", "make"), ("gcc", "gcc"), ("flex", "flex"), ("bison", "bison"), ("bc", "bc"),
            // BTF: pahole turns the DWARF of vmlinux into .BTF.
            ("pahole", "pahole"),
        ]
        for (tool, package) in needed {
            if let at = Toolchain.which(tool, path: path) {
                found[tool] = at
            } else {
                missing.append(Toolchain.Missing(what: tool, package: package))
            }
        }
        // objtool and resolve_btfids link against libelf.
        if !fileExists("/usr/include/libelf.h") && !fileExists("/usr/include/elfutils/libelf.h") {
            missing.append(Toolchain.Missing(what: "libelf headers", package: "libelf-dev"))
        }
        if !missing.isEmpty { throw Toolchain.missingError(missing) }
        let ccache = Toolchain.which("ccache", path: path)
        return BuildTools(
            make: found["make"] ?? "make", compiler: ccache == nil ? "gcc" : "ccache gcc",
            ccache: ccache, git: Toolchain.which("git", path: path))
    }

    /// Fixed build identity, so that a rebuild of the same source produces the
    /// same objects and ccache can return them: the timestamp, user, host and
    /// build number otherwise end up in init/version.o and the banner.
    public static let reproducible: [String: String] = [
        "KBUILD_BUILD_TIMESTAMP": "Thu Jan  1 00:00:00 UTC 2026",
        "KBUILD_BUILD_USER": "selftests",
        "KBUILD_BUILD_HOST": "selftests",
        "KBUILD_BUILD_VERSION": "1",
        // The parser looks for GCC's English `error:`. (Kbuild unexports
        // LC_ALL, so that would not reach the compiler.)
        "LC_MESSAGES": "C",
    ]

    /// The environment of every make: the reproducible identity, and ccache's
    /// directory inside the runner's cache unless the user chose one.
    public func environment(cache: Cache, inherited: [String: String]) -> [String: String] {
        var env = Self.reproducible
        if ccache != nil, inherited["CCACHE_DIR"] == nil {
            env["CCACHE_DIR"] = cache.entry("ccache").path
        }
        return env
    }
}
