extension Catalog {
    /// Hash maps: HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH, each test one
    /// case per variant (the four types, and HASH / PERCPU_HASH with
    /// BPF_F_NO_PREALLOC), as the kernel's hash map documentation promises.
    static let hash: [TestSpec] = [
        TestSpec(
            "hash/update_flags",
            "BPF_ANY creates or replaces, BPF_NOEXIST fails with EEXIST, BPF_EXIST with ENOENT, "
                + "from user space and from a program",
            object: "hash_ops"),
        TestSpec(
            "hash/lookup_delete",
            "struct keys and values: lookup returns the value or nothing, delete 0 or ENOENT",
            object: "hash_ops"),
        TestSpec(
            "hash/update_atomic",
            "a reader on another CPU always finds an element being replaced; torn values are "
                + "counted, not failed (6.12 tears)",
            object: "hash_ops", timeoutSeconds: 60, expectedSeconds: 6),
        TestSpec(
            "hash/full_refuses",
            "a full HASH or PERCPU_HASH refuses a new key with E2BIG and still replaces",
            object: "hash_ops"),
        TestSpec(
            "hash/lru_evicts",
            "a full LRU map evicts the least recently used keys, with and without "
                + "BPF_F_NO_COMMON_LRU",
            object: "hash_ops", timeoutSeconds: 60),
        TestSpec(
            "hash/percpu_slots",
            "user space sees one slot per possible CPU; a program writes its own CPU's slot only",
            object: "hash_ops"),
        TestSpec(
            "hash/percpu_lookup_elem",
            "bpf_map_lookup_percpu_elem reads a chosen CPU's slot, NULL for a CPU out of range",
            object: "hash_ops"),
        TestSpec(
            "hash/atomic_add",
            "__sync_fetch_and_add from programs on every CPU at once sums exactly",
            object: "hash_ops", timeoutSeconds: 60),
        TestSpec(
            "hash/spin_lock",
            "BPF_F_LOCK and bpf_spin_lock never tear a HASH value; other types refuse the lock",
            object: "hash_spin_lock", timeoutSeconds: 60, expectedSeconds: 2),
        TestSpec(
            "hash/get_next_key",
            "a walk from NULL visits each key once and ends with ENOENT; deleting the current "
                + "key restarts from the first",
            object: "hash_ops"),
        TestSpec(
            "hash/batch_ops",
            "lookup, lookup_and_delete, update and delete batches agree with element operations",
            object: "hash_ops", timeoutSeconds: 60, expectedSeconds: 0.8),
    ]
}
