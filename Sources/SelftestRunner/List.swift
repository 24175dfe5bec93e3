import ArgumentParser
import Foundation
import SelftestCatalog
import SelftestKit

extension Selftests {
    /// `selftests list`: the tests, grouped, with what each proves.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tests.")

        @Option(name: .long, help: "Only tests matching these globs.")
        var filter: String?

        @Flag(name: .long, help: "Include the fixture tests that prove the runner itself.")
        var fixtures = false

        @Flag(
            name: .long,
            help: "List the tests of the tree's own test_progs instead (for --test-progs).")
        var testProgs = false

        @Option(
            name: .long,
            help: "With --test-progs: the kernel tree (default: Debian's 6.12 source).")
        var tree: String?

        @Option(name: .long, help: "Cache directory (default: $XDG_CACHE_HOME/selftests).")
        var cacheDir: String?

        func validate() throws {
            if tree != nil && !testProgs { throw ValidationError("--tree goes with --test-progs") }
        }

        func run() throws {
            if testProgs { return try listTestProgs() }
            // The same refusal as `run`: a glob that lists nothing is a typo.
            if let filter { _ = try TestBench.selectTests(filter: filter) }
            let specs = Catalog.all.filter { spec in
                if filter != nil { return TestFilter(filter).matches(spec) }
                return fixtures || !spec.isFixture
            }
            var group = ""
            for spec in specs {
                if spec.group != group {
                    group = spec.group
                    print("\(group)/")
                }
                let object = spec.object.map { "  [progs/\($0).bpf.c]" } ?? ""
                let optIn =
                    spec.isFixture
                    ? "" : spec.optInPrefix.map { "  (opt-in: --filter '\($0)/*')" } ?? ""
                print("  \(spec.name)\(object)\(optIn)\n      \(spec.summary)")
            }
        }

        /// The tests a tree's test_progs has, found in its `prog_tests/*.c`
        /// as its Makefile finds them for `tests.h` (no build needed), with
        /// those the last build left out marked.
        func listTestProgs() throws {
            let cache = Cache(
                root: cacheDir.map { URL(fileURLWithPath: $0) } ?? Cache.defaultRoot())
            let root =
                try tree.map { URL(fileURLWithPath: $0) }
                ?? KernelSource.ensure(cache: cache, note: { note in print("selftests: \(note)") })
                .tree
            let listing = try TestProgsListing.read(tree: root, cache: cache)
            for test in listing.tests {
                let broken = listing.leftOut[test].map { "  (does not build: \($0))" } ?? ""
                print("\(TestProgsOutput.suite)/\(test)\(broken)")
            }
        }
    }
}
