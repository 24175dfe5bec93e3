import CLibbpf
import Glibc

/// A libbpf call that failed: which call, on what, and the errno.
public struct BPFError: Error, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    /// libbpf's own log for the call (the verifier log for a failed load).
    public var log: String

    public var description: String {
        let tail = log.isEmpty ? "" : "\n" + log
        return "\(call) failed: \(errnoName(errno))\(tail)"
    }
}

/// Collects what libbpf prints, so a failed load can carry its verifier log.
enum LibbpfLog {
    nonisolated(unsafe) static var buffer = ""

    static func install() {
        libbpf_set_print { level, format, args in
            guard let format, let args else { return 0 }
            var line = [CChar](repeating: 0, count: 4096)
            _ = vsnprintf(&line, line.count, format, args)
            if level != LIBBPF_DEBUG {
                let text = String(
                    decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                LibbpfLog.buffer += text
            }
            return 0
        }
    }

    /// Returns and clears what was logged since the last call; the tail is kept
    /// because the verifier's conclusion is at the end of its log.
    static func take(limit: Int = 6000) -> String {
        defer { buffer = "" }
        return buffer.count > limit ? "…" + String(buffer.suffix(limit)) : buffer
    }
}

/// Turns libbpf's `-errno` (or errno on a NULL return) into a thrown BPFError.
@discardableResult
func check(_ result: Int32, _ call: @autoclosure () -> String) throws -> Int32 {
    if result < 0 { throw BPFError(call: call(), errno: -result, log: LibbpfLog.take()) }
    return result
}

/// An opened and loaded BPF object file from `progs/`.
public final class BPFObject {
    public let raw: OpaquePointer
    private var links: [OpaquePointer] = []

    /// Opens and loads `path`; a verifier rejection throws with its log.
    /// `configure` sees the opened object before the load, to set what only
    /// the load can apply (a map's type, flags or size; a program's autoload).
    public init(path: String, configure: (OpaquePointer) throws -> Void = { _ in }) throws {
        LibbpfLog.install()
        guard let object = bpf_object__open_file(path, nil) else {
            throw BPFError(
                call: "bpf_object__open_file(\(path))", errno: errno, log: LibbpfLog.take())
        }
        raw = object
        do {
            try configure(object)
            try check(bpf_object__load(object), "bpf_object__load(\(path))")
            try Self.shareGlobalSections(object)
        } catch {
            // Every property is set, so deinit runs too: close() frees only once.
            close()
            throw error
        }
    }

    deinit { close() }

    private var closed = false

    /// Detaches every link and frees the object and its maps (the kernel frees
    /// a map once its last reference is gone).
    public func close() {
        if closed { return }
        closed = true
        for link in links { bpf_link__destroy(link) }
        links = []
        bpf_object__close(raw)
    }

    /// Before 1.5, libbpf maps a loaded object's `.bss`/`.data`/`.rodata`
    /// into user memory only for skeletons: without one, the initial value
    /// is a private copy the programs never see. Map the kernel's memory over
    /// it, as the skeleton loader does, so that `global` is live.
    private static func shareGlobalSections(_ object: OpaquePointer) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        var map = bpf_object__next_map(object, nil)
        while let m = map {
            map = bpf_object__next_map(object, m)
            let flags = bpf_map__map_flags(m)
            var size = 0
            guard flags & UInt32(BPF_F_MMAPABLE) != 0,
                let base = bpf_map__initial_value(m, &size), size > 0
            else { continue }
            let readOnly = flags & UInt32(BPF_F_RDONLY_PROG) != 0
            let prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE
            let length = (size + page - 1) / page * page
            let mapped = mmap(
                UnsafeMutableRawPointer(mutating: base), length, prot, MAP_SHARED | MAP_FIXED,
                bpf_map__fd(m), 0)
            if mapped == MAP_FAILED {
                let name = String(cString: bpf_map__name(m))
                throw BPFError(call: "mmap(\(name))", errno: errno, log: "")
            }
        }
    }

    public func program(_ name: String) throws -> OpaquePointer {
        guard let prog = bpf_object__find_program_by_name(raw, name) else {
            throw BPFError(call: "find program \(name)", errno: ENOENT, log: "")
        }
        return prog
    }

    /// Attaches a program by its section (fentry, fexit, tp, lsm, …).
    public func attach(_ name: String) throws {
        let prog = try program(name)
        guard let link = bpf_program__attach(prog) else {
            throw BPFError(
                call: "bpf_program__attach(\(name))", errno: errno, log: LibbpfLog.take())
        }
        links.append(link)
    }

    public func map(_ name: String) throws -> BPFMap {
        guard let map = bpf_object__find_map_by_name(raw, name) else {
            throw BPFError(call: "find map \(name)", errno: ENOENT, log: "")
        }
        return BPFMap(fd: bpf_map__fd(map), name: name, owned: false)
    }

    /// A pointer to a global variable of the program (`.bss`, `.data`,
    /// `.rodata`), live: libbpf maps these sections into user memory, so
    /// reads see what the program wrote.
    public func global<T>(_ name: String, as type: T.Type = T.self) throws -> UnsafeMutablePointer<
        T
    > {
        guard let btf = bpf_object__btf(raw) else {
            throw BPFError(call: "bpf_object__btf", errno: ENOENT, log: "")
        }
        var map = bpf_object__next_map(raw, nil)
        while let m = map {
            let mapName = String(cString: bpf_map__name(m))
            if let dot = mapName.lastIndex(of: "."),
                let offset = Self.offset(of: name, inSection: String(mapName[dot...]), btf: btf)
            {
                var size = 0
                guard let base = bpf_map__initial_value(m, &size) else { break }
                return UnsafeMutableRawPointer(mutating: base + offset).bindMemory(
                    to: T.self, capacity: 1)
            }
            map = bpf_object__next_map(raw, m)
        }
        throw BPFError(call: "find global \(name)", errno: ENOENT, log: "")
    }

    private static func offset(of variable: String, inSection section: String, btf: OpaquePointer)
        -> Int?
    {
        let btf_kind_datasec: UInt32 = 15  // BTF_KIND_DATASEC in linux/btf.h
        let id = btf__find_by_name_kind(btf, section, btf_kind_datasec)
        guard id > 0, let sec = btf__type_by_id(btf, UInt32(id)) else { return nil }
        let count = Int(sec.pointee.info & 0xffff)
        let infos = UnsafeRawPointer(sec + 1).bindMemory(to: btf_var_secinfo.self, capacity: count)
        for i in 0..<count {
            guard let varType = btf__type_by_id(btf, infos[i].type),
                let cname = btf__name_by_offset(btf, varType.pointee.name_off)
            else { continue }
            if String(cString: cname) == variable { return Int(infos[i].offset) }
        }
        return nil
    }
}

/// A map file descriptor with typed element operations. Each returns the
/// errno of a failure instead of throwing, because tests assert on errnos.
public final class BPFMap {
    public let fd: Int32
    public let name: String
    private let owned: Bool

    init(fd: Int32, name: String, owned: Bool) {
        self.fd = fd
        self.name = name
        self.owned = owned
    }

    /// Creates a map directly with `bpf_map_create`.
    public convenience init(
        type: bpf_map_type, name: String, keySize: Int, valueSize: Int, maxEntries: Int,
        flags: UInt32 = 0
    ) throws {
        var opts = bpf_map_create_opts()
        opts.sz = MemoryLayout<bpf_map_create_opts>.size
        opts.map_flags = flags
        let fd = bpf_map_create(
            type, name, UInt32(keySize), UInt32(valueSize), UInt32(maxEntries), &opts)
        try check(fd, "bpf_map_create(\(name), type \(type.rawValue), flags \(flags))")
        self.init(fd: fd, name: name, owned: true)
    }

    deinit { close() }

    private var closed = false

    /// Drops this process's reference to the map.
    public func close() {
        if owned && !closed { Glibc.close(fd) }
        closed = true
    }

    /// 0 on success, else the errno.
    public func update<K, V>(_ key: K, _ value: V, flags: UInt64 = UInt64(BPF_ANY)) -> Int32 {
        var k = key
        var v = value
        return result(bpf_map_update_elem(fd, &k, &v, flags))
    }

    public func lookup<K, V>(_ key: K, as type: V.Type = V.self, flags: UInt64 = 0) -> Result<
        V, BPFError
    > {
        var k = key
        let value = UnsafeMutablePointer<V>.allocate(capacity: 1)
        defer { value.deallocate() }
        let rc = bpf_map_lookup_elem_flags(fd, &k, value, flags)
        if rc < 0 { return .failure(BPFError(call: "lookup in \(name)", errno: -rc, log: "")) }
        return .success(value.pointee)
    }

    public func delete<K>(_ key: K) -> Int32 {
        var k = key
        return result(bpf_map_delete_elem(fd, &k))
    }

    private func result(_ rc: Int32) -> Int32 { rc < 0 ? -rc : 0 }
}
