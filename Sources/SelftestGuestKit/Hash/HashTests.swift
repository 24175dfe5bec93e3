/// The hash map suite: HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (and
/// HASH / PERCPU_HASH with `BPF_F_NO_PREALLOC`) checked against what the
/// kernel documents, one case per variant.
enum HashTests {
    static let bodies: [String: TestBody] = [
        "hash/update_flags": { try HashUpdateTests.updateFlags($0) },
        "hash/lookup_delete": { try HashUpdateTests.lookupDelete($0) },
        "hash/update_atomic": { try HashConcurrencyTests.updateAtomic($0) },
        "hash/full_refuses": { try HashCapacityTests.fullRefuses($0) },
        "hash/lru_evicts": { try HashCapacityTests.lruEvicts($0) },
        "hash/percpu_slots": { try HashPerCPUTests.slots($0) },
        "hash/percpu_lookup_elem": { try HashPerCPUTests.lookupPercpuElem($0) },
        "hash/atomic_add": { try HashConcurrencyTests.atomicAdd($0) },
        "hash/spin_lock": { try HashSpinLockTests.spinLock($0) },
        "hash/get_next_key": { try HashIterationTests.getNextKey($0) },
        "hash/batch_ops": { try HashBatchTests.batchOps($0) },
    ]
}
