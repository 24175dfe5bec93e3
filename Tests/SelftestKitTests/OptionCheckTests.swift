import Foundation
import SelftestCatalog
import SelftestTestSupport
import Testing

@testable import SelftestKit

/// Option values refused up front, each naming the option as written.
@Suite(.tags(.unit)) struct OptionCheckTests {
    /// One glob that matches nothing refuses the whole filter (it used to
    /// be dropped, and the rest ran as if it were the request).
    @Test(arguments: ["storage/*,hahs/*", "hahs/*", "", ",,,", " , "])
    func aFilterWithAGlobThatSelectsNothingIsRefused(filter: String) throws {
        let error = try #require(refusal { _ = try TestBench.selectTests(filter: filter) })
        #expect(error.kind == .usage)
        #expect(error.domain == .options)
        #expect(error.input == "--filter '\(filter)'")
    }

    @Test func everyGlobOfAGoodFilterSelects() throws {
        #expect(TestFilter("storage/*,hahs/*").unmatched(in: Catalog.all) == ["hahs/*"])
        let names = try TestBench.selectTests(filter: "storage/sk/*, fixture/fail").map(\.name)
        #expect(names.contains("fixture/fail"))
        #expect(names.contains { $0.hasPrefix("storage/sk/") })
        // An opt-in test is matched by a glob that names its prefix.
        #expect(try !TestBench.selectTests(filter: "memory/large/*").isEmpty)
        #expect(
            try TestBench.selectTests(filter: nil).map(\.name)
                == TestFilter(nil).select(from: Catalog.all).map(\.name))
    }

    @Test func cpusAboveQEMUsLimitAreRefused() throws {
        let host = HostLimits(memoryMiB: 8192, cpus: 2)
        var options = RunOptions()
        options.cpus = HostLimits.qemuMaxCPUs
        try options.check(host: host)
        options.cpus = 1000
        let error = try #require(refusal { try options.check(host: host) })
        #expect(error.kind == .usage)
        #expect(error.domain == .machine)
        #expect(error.input == "--cpus 1000")
    }

    @Test func memoryAboveTheHostsIsRefused() throws {
        let host = HostLimits(memoryMiB: 8192, cpus: 2)
        var options = RunOptions()
        options.memoryMiB = 8192
        try options.check(host: host)
        options.memoryMiB = 1_000_000
        let error = try #require(refusal { try options.check(host: host) })
        #expect(error.kind == .usage)
        #expect(error.domain == .machine)
        #expect(error.input == "--memory 1000000")
        // This host's real memory bounds the default check.
        #expect(refusal { try options.check() } != nil)
    }

    @Test(arguments: ["0.5", "1.5", "0", "-3", "soon"])
    func aTestTimeoutThatIsNotWholePositiveSecondsIsRefused(text: String) throws {
        let error = try #require(
            refusal { _ = try WholeSeconds.parse(text, option: "--test-timeout") })
        #expect(error.kind == .usage)
        #expect(error.domain == .options)
        #expect(error.input == "--test-timeout \(text)")
        #expect(try WholeSeconds.parse("30", option: "--test-timeout") == 30)
    }

    /// A tree that does not exist is said to not exist (it used to be
    /// "no Makefile"), and a file is not a tree.
    @Test func aTreeThatDoesNotExistOrIsAFileIsSaidSo() throws {
        var messages: Set<String> = []
        for path in ["/nonexistent/linux", "/bin/ls"] {
            let error = try #require(
                refusal { try KernelConfigure.validate(tree: URL(fileURLWithPath: path)) })
            #expect(error.kind == .usage)
            #expect(error.domain == .tree)
            #expect(error.input == "--tree \(path)")
            messages.insert(error.message)
        }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("tree-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let noMakefile = try #require(
            refusal { try KernelConfigure.validate(tree: empty) })
        messages.insert(noMakefile.message)
        #expect(messages.count == 3, "\(messages)")
    }

    @Test func vmlinuxWithoutKernelIsRefused() throws {
        var options = RunOptions()
        options.vmlinux = "/boot/vmlinux"
        let error = try #require(refusal { try options.check() })
        #expect(error.kind == .usage)
        #expect(error.domain == .kernelInput)
        #expect(error.input == "--vmlinux /boot/vmlinux")
        options.kernel = "/boot/vmlinuz"
        try options.check()
    }
}
