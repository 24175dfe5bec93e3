import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

/// The host's catalog and the guest's bodies must name the same tests, or a
/// test would be listed and never run, or run and never be reported.
@Suite(.tags(.unit)) struct CatalogConsistencyTests {
    @Test func everyCatalogTestHasAGuestBody() {
        // fixture/build_error never reaches the guest: its program fails to compile.
        let hostOnly: Set<String> = ["fixture/build_error"]
        for spec in Catalog.all where !hostOnly.contains(spec.name) {
            #expect(Registry.body(for: spec.name) != nil, "\(spec.name) has no guest body")
        }
    }

    @Test func everyGuestBodyIsInTheCatalog() {
        let names = Set(Catalog.all.map(\.name))
        for name in Registry.bodies.keys {
            #expect(names.contains(name), "guest body \(name) is not in the catalog")
        }
    }

    @Test func agentOnlyBodiesAreFixtures() {
        for name in Registry.runsInAgent {
            #expect(Catalog.spec(named: name)?.isFixture == true, "\(name) runs unisolated")
        }
    }
}
