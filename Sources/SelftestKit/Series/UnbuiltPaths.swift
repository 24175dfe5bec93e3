import Foundation

/// Paths of a kernel tree that `make bzImage` never reads. A patch that
/// changes only these leaves the kernel byte-identical to the step before,
/// so the step is not even built (a no-op make of the whole tree still
/// takes 5 to 6 s here).
///
/// Kbuild reads nothing under `tools/testing/` (only the kselftest targets
/// do, and they are not bzImage's) and nothing under `Documentation/` but
/// `Documentation/Kconfig`, which the top Kconfig sources. A config fragment
/// taken from the tree (`--config selftests`) is read, so it is excluded.
public struct UnbuiltPaths: Sendable, Equatable {
    /// Tree-relative paths of config fragments the build reads.
    public var fragments: [String]

    public init(fragments: [String] = []) {
        self.fragments = fragments
    }

    /// The rule for a build with the `--config` values `configs`.
    public init(configs: [String]) {
        self.fragments =
            configs.contains(ConfigFragment.treeSelftestsName)
            ? [ConfigFragment.treeSelftestsPath] : []
    }

    public func contains(_ path: String) -> Bool {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if name.hasPrefix("Kconfig") || fragments.contains(where: { path.hasPrefix($0) }) {
            return false
        }
        return path.hasPrefix("tools/testing/") || path.hasPrefix("Documentation/")
    }

    /// Whether every path `git diff --name-only` lists is one the build does
    /// not read (and there is at least one).
    public func containsAll(_ paths: [String]) -> Bool {
        !paths.isEmpty && paths.allSatisfy(contains)
    }
}
