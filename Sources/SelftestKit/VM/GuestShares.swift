import Foundation
import SelftestCatalog

/// How many guests a run boots at once (`--jobs`), and which tests each runs.
public enum GuestShares {
    /// Memory a QEMU process takes beyond the guest's RAM: TCG's translated
    /// code, device emulation, QEMU itself. A 1 GiB TCG guest running the
    /// default suite peaked at 380 MiB resident (it never touches all its
    /// RAM); this allows for one that does.
    public static let qemuOverheadMiB = 256

    /// Host threads one guest keeps busy: single-threaded TCG runs every
    /// vCPU on one thread; multi-threaded TCG and KVM run one per vCPU.
    public static func hostThreads(
        accelerator: Accelerator, cpus: Int, tcgThreading: TCGThreading
    ) -> Int {
        accelerator == .tcg && tcgThreading == .single ? 1 : max(1, cpus)
    }

    /// The guests to boot when `--jobs` is not given: as many as the host's
    /// cores keep busy (each guest counted by the host threads it uses), no
    /// more than the available memory holds (each guest its RAM plus QEMU's
    /// overhead), at least one.
    public static func defaultJobs(
        cores: Int, availableMiB: Int, memoryMiB: Int, hostThreadsPerGuest: Int
    ) -> Int {
        let byCores = cores / max(1, hostThreadsPerGuest)
        let byMemory = availableMiB / (memoryMiB + qemuOverheadMiB)
        return max(1, min(byCores, byMemory))
    }

    /// The memory the host can give new processes now, in MiB
    /// (`MemAvailable`); its physical memory when that cannot be read.
    public static func availableMemoryMiB(meminfo: String? = nil) -> Int {
        let text =
            meminfo
            ?? (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = Int(fields[1]) { return kib / 1024 }
        }
        return Int(ProcessInfo.processInfo.physicalMemory / (1024 * 1024))
    }

    /// `tests` split into at most `jobs` non-empty shares (never more shares
    /// than tests), balanced by each test's time: its `recorded` seconds
    /// when the history has them, its `expectedSeconds` otherwise; the
    /// longest first, each to the share with the least time so far (ties:
    /// fewer tests, then the lower share). Each share keeps the order of
    /// `tests`. The same tests and times always split the same way; one job
    /// is `[tests]`.
    public static func split(
        _ tests: [TestSpec], jobs: Int, recorded: [String: Double] = [:]
    ) -> [[TestSpec]] {
        let count = min(max(1, jobs), tests.count)
        guard count > 1 else { return tests.isEmpty ? [] : [tests] }
        let seconds = tests.map { test in
            recorded[test.name].flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
                ?? test.expectedSeconds
        }
        let longestFirst = tests.indices.sorted { a, b in
            seconds[a] != seconds[b] ? seconds[a] > seconds[b] : a < b
        }
        var load = [Double](repeating: 0, count: count)
        var members = [[Int]](repeating: [], count: count)
        for index in longestFirst {
            let share = load.indices.min { a, b in
                if load[a] != load[b] { return load[a] < load[b] }
                if members[a].count != members[b].count {
                    return members[a].count < members[b].count
                }
                return a < b
            }!
            load[share] += seconds[index]
            members[share].append(index)
        }
        return members.map { $0.sorted().map { tests[$0] } }
    }
}
