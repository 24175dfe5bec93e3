import ArgumentParser
import SelftestCatalog

extension Selftests {
    /// `selftests list`: the tests, grouped, with what each proves.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tests.")

        @Option(name: .long, help: "Only tests matching these globs.")
        var filter: String?

        @Flag(name: .long, help: "Include the fixture tests that prove the runner itself.")
        var fixtures = false

        func run() throws {
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
    }
}
