import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestGuestKit

/// The agent reads its plan and programs from the image unless told where
/// they are: virtme-ng runs it from the host's filesystem.
@Suite(.tags(.unit)) struct GuestInvocationTests {
    @Test(arguments: [
        (["selftests-guest"], "/selftests/plan", "/progs"),
        (["selftests-guest", "/run/plan"], "/run/plan", "/progs"),
        (["selftests-guest", "/c/plan", "/c/progs"], "/c/plan", "/c/progs"),
    ])
    func thePlanAndTheProgramsComeFromTheArguments(
        arguments: [String], plan: String, progs: String
    ) {
        let invocation = Agent.Invocation(arguments: arguments)
        #expect(invocation.planPath == plan)
        #expect(invocation.progsDirectory == progs)
    }

    /// The directory reaches the body in its forked child: a body that only
    /// reports where its object would be (it loads nothing, so no BPF runs
    /// on the host).
    @Test func aTestBodyFindsItsObjectsInTheDirectoryGiven() {
        let test = PlannedTest(name: "storage/sk/probe", timeoutSeconds: 20)
        let result = ForkedTest.run(
            test: test, body: { $0.log("object at \($0.objectPath("sk_storage"))") },
            progsDirectory: "/c/bench/progs")
        #expect(result.outcome == .pass, "\(result.message)")
        #expect(result.diagnostics == ["object at /c/bench/progs/sk_storage.bpf.o"])
    }
}
