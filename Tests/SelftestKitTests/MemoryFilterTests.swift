import SelftestCatalog
import SelftestTestSupport
import Testing

/// The 1M-entry memory tests are opt-in: only a filter that names
/// `memory/large` runs them, so the default run and CI stay small.
@Suite(.tags(.unit)) struct MemoryFilterTests {
    static let large = Catalog.all.filter { $0.optInPrefix == "memory/large" }.map(\.name)

    @Test func theLargeTestsExistAndIncludeThePublishedCase() {
        #expect(Self.large.contains("memory/large/published"))
        #expect(Self.large.allSatisfy { $0.hasPrefix("memory/large/") })
    }

    @Test(arguments: [nil, "*", "memory/*", "memory/*/*", "*/published"])
    func broadFiltersLeaveThemOut(_ filter: String?) {
        let selected = TestFilter(filter).select(from: Catalog.all).map(\.name)
        for name in Self.large {
            #expect(!selected.contains(name), "\(filter ?? "nil") ran \(name)")
        }
    }

    @Test func aFilterNamingThemSelectsThem() {
        let both = TestFilter("memory/*,memory/large/*").select(from: Catalog.all).map(\.name)
        #expect(both.filter { $0.hasPrefix("memory/large/") } == Self.large)
        #expect(both.contains("memory/hash/cost"))
        let one = TestFilter("memory/large/published").select(from: Catalog.all).map(\.name)
        #expect(one == ["memory/large/published"])
    }

    @Test func fixturesKeepTheirOwnRule() {
        let selected = TestFilter("memory/large/*,fixture/pass").select(from: Catalog.all)
        #expect(selected.filter(\.isFixture).map(\.name) == ["fixture/pass"])
        #expect(TestFilter("*").select(from: Catalog.all).allSatisfy { !$0.isFixture })
    }
}
