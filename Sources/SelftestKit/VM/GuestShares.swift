import Foundation
import SelftestCatalog

/// How many guests a run boots at once (`--jobs`).
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
}
