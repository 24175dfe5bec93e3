import CLibbpf
import Glibc
import SelftestCatalog

/// The four kinds of BPF local storage: the map type, and what the key of a
/// user-space operation is (an fd naming the owner).
enum LocalStorageKind: String, CaseIterable, Sendable {
    case sk, task, cgrp, inode

    var mapType: bpf_map_type {
        switch self {
        case .sk: BPF_MAP_TYPE_SK_STORAGE
        case .task: BPF_MAP_TYPE_TASK_STORAGE
        case .inode: BPF_MAP_TYPE_INODE_STORAGE
        // By number: the build host's linux/bpf.h (6.1) predates it.
        case .cgrp: bpf_map_type(rawValue: 32)
        }
    }

    var typeName: String {
        switch self {
        case .sk: "BPF_MAP_TYPE_SK_STORAGE"
        case .task: "BPF_MAP_TYPE_TASK_STORAGE"
        case .cgrp: "BPF_MAP_TYPE_CGRP_STORAGE"
        case .inode: "BPF_MAP_TYPE_INODE_STORAGE"
        }
    }
}

extension BPFMap {
    /// Creates a local storage map from user space, without an object file.
    /// The kernel requires BTF for the key and value of these maps, so this
    /// loads a small BTF blob: the key is `int` (an fd from user space), the
    /// value `unsigned char[N]`.
    static func localStorage(
        _ kind: LocalStorageKind, name: String, valueSize: Int, flags: UInt32 = 0
    ) throws -> BPFMap {
        LibbpfLog.install()
        guard let btf = btf__new_empty() else {
            throw BPFError(call: "btf__new_empty", errno: errno, log: "")
        }
        defer { btf__free(btf) }
        let intType = try check(btf__add_int(btf, "int", 4, BTF_INT_SIGNED), "btf__add_int(int)")
        let byteType = try check(btf__add_int(btf, "unsigned char", 1, 0), "btf__add_int(char)")
        let valueType = try check(
            btf__add_array(btf, intType, byteType, UInt32(valueSize)), "btf__add_array")
        try check(btf__load_into_kernel(btf), "btf__load_into_kernel")

        var opts = bpf_map_create_opts()
        opts.sz = MemoryLayout<bpf_map_create_opts>.size
        opts.map_flags = UInt32(BPF_F_NO_PREALLOC) | flags
        opts.btf_fd = UInt32(btf__fd(btf))
        opts.btf_key_type_id = UInt32(intType)
        opts.btf_value_type_id = UInt32(valueType)
        let fd = bpf_map_create(kind.mapType, name, 4, UInt32(valueSize), 0, &opts)
        try check(fd, "bpf_map_create(\(name), \(kind.typeName))")
        return BPFMap(fd: fd, name: name, owned: true)
    }

    /// Update with a value given as bytes (for sizes no Swift type has).
    /// 0 on success, else the errno.
    func update(fd key: Int32, bytes: [UInt8], flags: UInt64 = UInt64(BPF_ANY)) -> Int32 {
        var k = key
        let rc = bytes.withUnsafeBytes { bpf_map_update_elem(fd, &k, $0.baseAddress, flags) }
        return rc < 0 ? -rc : 0
    }

    /// The errno of a lookup of a value of `valueSize` bytes (0 when the
    /// element exists).
    func lookupErrno(fd key: Int32, valueSize: Int) -> Int32 {
        var k = key
        var buffer = [UInt8](repeating: 0, count: valueSize)
        let rc = buffer.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, &k, $0.baseAddress) }
        return rc < 0 ? -rc : 0
    }

    /// The errno of a lookup (0 when the element exists), for tests that
    /// only ask whether an element is there.
    func lookupErrno<V>(_ key: Int32, as type: V.Type) -> Int32 {
        switch lookup(key, as: type) {
        case .success: 0
        case .failure(let error): error.errno
        }
    }
}

/// Decides, by trying, whether the kernel has a kind of local storage: a
/// skip names what is missing, instead of a version number.
enum LocalStorageProbe {
    /// Throws a skip if creating the map type fails with EINVAL, which is
    /// what `map_create()` answers for a type it does not know (the attributes
    /// here are valid for every local storage type).
    static func require(_ kind: LocalStorageKind, _ context: TestContext) throws {
        do {
            let map = try BPFMap.localStorage(kind, name: "probe_\(kind.rawValue)", valueSize: 8)
            map.close()
        } catch let error as BPFError
            where error.errno == EINVAL && error.call.hasPrefix("bpf_map_create")
        {
            throw context.skip(
                "kernel lacks \(kind.typeName): creating one with BTF and BPF_F_NO_PREALLOC "
                    + "fails with EINVAL")
        }
    }

    /// Throws a skip unless the BPF LSM is active, which inode storage
    /// needs: without it inodes have no BPF blob to hold the storage, and
    /// LSM programs attach but never run. Mounts securityfs in a private
    /// mount namespace to read the active list, so nothing outlives the test.
    static func requireBPFLSM(_ context: TestContext) throws {
        let path = "/sys/kernel/security/lsm"
        if FD.readFile(path) == nil {
            try Libc.unshareMountNamespace()
            if mount("securityfs", "/sys/kernel/security", "securityfs", 0, nil) != 0 {
                throw context.skip(
                    "securityfs cannot be mounted (\(errnoName(errno))): the kernel has no "
                        + "CONFIG_SECURITYFS, so no LSM list and no BPF LSM")
            }
        }
        guard let list = FD.readFile(path)?.trimming("\n\r ", leading: false) else {
            throw context.skip("\(path) is missing: the kernel has no CONFIG_SECURITY")
        }
        if !list.split(separator: ",").contains("bpf") {
            throw context.skip(
                "the BPF LSM is not active (\(path): \(list)); boot with lsm=...,bpf "
                    + "(needs CONFIG_BPF_LSM)")
        }
    }
}

/// The Swift mirrors of the programs' value structs must have their C
/// sizes, or every field after a mismatch reads the wrong bytes.
enum StorageLayout {
    static let sizes: [(name: String, swift: Int, c: Int)] = [
        ("SkOpsValue", MemoryLayout<SkOpsValue>.size, 16),
        ("SkLockedValue", MemoryLayout<SkLockedValue>.size, 24),
        ("SkDestroyRecord", MemoryLayout<SkDestroyRecord>.size, 16),
        ("TaskValue", MemoryLayout<TaskValue>.size, 16),
        ("CgrpValue", MemoryLayout<CgrpValue>.size, 16),
        ("InodeValue", MemoryLayout<InodeValue>.size, 24),
    ]

    static func check(_ context: TestContext) throws {
        for entry in sizes {
            try context.expectEqual(
                entry.swift, entry.c, "size of \(entry.name) (must match its C struct)")
        }
    }
}
