import Glibc
import SelftestCatalog

/// A memory cgroup a storage test moves itself into, to read what the kernel
/// charges for everything the test allocates (BPF maps charge their
/// elements to the memory cgroup of the process that created the map).
final class StorageMemcg {
    let cgroup: TestCgroup

    /// Enables the memory controller for the root's children, creates the
    /// cgroup and moves the calling process (all its threads) into it.
    init(_ name: String) throws {
        let control = "\(TestCgroup.root)/cgroup.subtree_control"
        let enabled = FD.readFile(control)?.split(separator: " ").contains {
            $0.hasPrefix("memory")
        }
        if enabled != true && !FD.writeFile(control, "+memory") {
            throw SystemCallError(call: "write +memory to \(control)", errno: errno)
        }
        cgroup = try TestCgroup(name)
        _ = try current()
        try cgroup.enter()
    }

    /// `memory.current`: bytes charged to the cgroup and its children.
    func current() throws -> Int {
        let path = "\(cgroup.path)/memory.current"
        guard let text = FD.readFile(path), let value = Int(text.trimming("\n\r ", leading: false))
        else {
            throw SystemCallError(call: "read \(path)", errno: errno)
        }
        return value
    }

    /// Moves the process back to the root; the cgroup goes once empty.
    func leave() {
        TestCgroup.leave()
        cgroup.remove()
    }

    deinit { leave() }
}
