import Foundation
import SelftestTestSupport
import Testing

@testable import SelftestKit

@Suite(.tags(.unit)) struct QemuCommandTests {
    let config = QemuConfiguration(
        kernel: URL(fileURLWithPath: "/k/bzImage"),
        initrd: URL(fileURLWithPath: "/run/initrd.cpio"),
        accelerator: .tcg, consoleLog: URL(fileURLWithPath: "/run/a,b/console.log"),
        resultsFile: URL(fileURLWithPath: "/run/results.ktap"), memoryMiB: 768, cpus: 3)

    @Test func bootsTheKernelWithInitrdAndPanicReboot() {
        let args = config.arguments
        #expect(
            args.starts(with: ["-accel", "tcg,thread=single"]),
            "multi-threaded TCG crashed guests at random under load")
        #expect(
            args.adjacent("-cpu", "qemu64,+rdrand"),
            "QEMU's default CPU model, with RDRAND so the guest CRNG is ready at boot")
        #expect(args.adjacent("-kernel", "/k/bzImage"))
        #expect(args.adjacent("-initrd", "/run/initrd.cpio"))
        #expect(args.adjacent("-m", "768"))
        #expect(args.adjacent("-smp", "3"))
        #expect(args.contains("-no-reboot"), "a panic must end QEMU, not reboot the guest")
        let append = try? #require(args.value(after: "-append"))
        #expect(append?.split(separator: " ").contains("panic=-1") == true)
        #expect(append?.split(separator: " ").contains("console=ttyS0") == true)
        #expect(
            append?.split(separator: " ").contains("printk.devkmsg=on") == true,
            "rate-limited /dev/kmsg drops the test markers")
    }

    @Test func resultsGoToTheirOwnVirtioSerialPort() {
        let args = config.arguments
        #expect(args.adjacent("-chardev", "file,id=results,path=/run/results.ktap"))
        #expect(args.adjacent("-device", "virtserialport,chardev=results,name=selftests.results"))
        #expect(args.adjacent("-serial", "chardev:console"))
    }

    /// Only a guest that shares a queue with others gets the queue port,
    /// a FIFO pair QEMU reads (`P.in`) and writes (`P.out`).
    @Test func theQueuePortIsThereOnlyWithAQueue() {
        #expect(!config.arguments.contains { $0.contains("selftests.queue") })
        var shared = config
        shared.queuePipe = URL(fileURLWithPath: "/run/a,b/queue")
        #expect(shared.arguments.adjacent("-chardev", "pipe,id=queue,path=/run/a,,b/queue"))
        #expect(
            shared.arguments.adjacent(
                "-device", "virtserialport,chardev=queue,name=selftests.queue"))
        #expect(
            shared.arguments.firstIndex(of: "pipe,id=queue,path=/run/a,,b/queue")!
                > shared.arguments.firstIndex(of: "virtio-serial-pci")!,
            "the port sits on the virtio-serial bus")
    }

    @Test func commasInPathsAreEscaped() {
        #expect(config.arguments.adjacent("-chardev", "file,id=console,path=/run/a,,b/console.log"))
    }

    @Test func multiThreadedTCGOnRequest() {
        var multi = config
        multi.tcgThreading = .multi
        #expect(multi.arguments.adjacent("-accel", "tcg,thread=multi"))
    }

    @Test func kvmUsesTheHostCPU() {
        var kvm = config
        kvm.accelerator = .kvm
        #expect(kvm.arguments.adjacent("-accel", "kvm"))
        #expect(kvm.arguments.adjacent("-cpu", "host"))
    }
}

@Suite(.tags(.unit)) struct AcceleratorChoiceTests {
    @Test func autoFallsBackToTCGWhenKVMIsBroken() throws {
        let choice = try AcceleratorChoice.decide(
            .auto, kvm: .broken("KVM internal error. Suberror: 1"))
        #expect(choice.accelerator == .tcg)
        #expect(choice.note?.contains("KVM internal error") == true)
    }

    @Test func autoUsesKVMOnlyWhenItWorks() throws {
        #expect(try AcceleratorChoice.decide(.auto, kvm: .works).accelerator == .kvm)
        #expect(try AcceleratorChoice.decide(.auto, kvm: .works).note == nil)
        #expect(
            try AcceleratorChoice.decide(.auto, kvm: .unavailable("no /dev/kvm")).accelerator
                == .tcg)
        #expect(try AcceleratorChoice.decide(.auto, kvm: .unprobed).accelerator == .tcg)
    }

    @Test func explicitTCGNeverSaysAnything() throws {
        for state: KVMState in [.works, .broken("x"), .unavailable("y"), .unprobed] {
            let choice = try AcceleratorChoice.decide(.tcg, kvm: state)
            #expect(choice == AcceleratorChoice(accelerator: .tcg, note: nil))
        }
    }

    /// What a probe (or an earlier run) found is enough to refuse
    /// `--accel kvm` up front, with the evidence and the fix.
    @Test(arguments: [KVMState.broken("KVM internal error"), .unavailable("no /dev/kvm")])
    func explicitKVMThatCannotWorkIsAMachineError(state: KVMState) throws {
        let error = try #require(throws: SelftestError.self) {
            try AcceleratorChoice.decide(.kvm, kvm: state)
        }
        #expect(error.kind == .environment)
        #expect(error.domain == .machine)
        #expect(error.input == "--accel kvm")
        #expect(error.exitCode == 2)
        #expect(error.fix != nil)
    }

    @Test func explicitKVMNobodyProbedIsTried() throws {
        #expect(try AcceleratorChoice.decide(.kvm, kvm: .unprobed).accelerator == .kvm)
    }

    @Test func probeVerdictsSurviveTheCacheRoundTrip() throws {
        for state: KVMState in [
            .works, .broken("KVM internal error"), .unavailable("no"), .unprobed,
        ] {
            let data = try JSONEncoder().encode(state)
            #expect(try JSONDecoder().decode(KVMState.self, from: data) == state)
        }
    }
}

extension Array where Element == String {
    func adjacent(_ a: String, _ b: String) -> Bool {
        zip(self, dropFirst()).contains { $0 == a && $1 == b }
    }

    func value(after flag: String) -> String? {
        guard let i = firstIndex(of: flag), i + 1 < count else { return nil }
        return self[i + 1]
    }
}

@Suite(.tags(.unit)) struct ConsoleKTAPFallbackTests {
    /// Debian's 6.1 cloud kernel builds virtio-console as a module, so the
    /// guest has no results port and the agent writes KTAP to the console.
    @Test func ktapIsReadFromTheConsoleWhenThePortIsEmpty() throws {
        let url = try #require(
            Bundle.module.url(
                forResource: "Fixtures/console/agent-ktap-on-console-6.1", withExtension: "log"))
        let console = try String(contentsOf: url, encoding: .utf8)
        let output = BootTracker(ktap: "", console: console)
        #expect(output.ktapFromConsole)
        let document = output.finishedDocument
        #expect(document.hasVersionLine)
        #expect(document.done)
        #expect(document.results.count == 20)
        #expect(document.results.first?.name == "storage/sk/omem_charge_delete")
        #expect(ConsoleLog.parse(console).kernelRelease?.hasPrefix("6.1.") == true)
    }

    @Test func thePortWinsWhenItHasKTAP() {
        let port = "KTAP version 1\n1..1\nok 1 a\n"
        let both = BootTracker(ktap: port, console: "KTAP version 1\n1..1\nnot ok 1 a\n")
        #expect(!both.ktapFromConsole)
        #expect(both.finishedDocument == KTAPParser.parse(port))
        let neither = BootTracker(ktap: "", console: "[ 1.0] Linux version 6.12\n")
        #expect(!neither.ktapFromConsole)
        #expect(neither.finishedDocument == KTAPParser.parse(""))
    }
}
