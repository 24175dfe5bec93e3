extension Catalog {
    /// BPF memory accounting: what maps cost against what the kernel reports.
    ///
    /// Each test measures maps in a fresh memory cgroup and checks memlock
    /// against it; `selftests memory` turns their measurements into a table.
    /// The `memory/large/` tests (1M entries, thousands of owners) run only
    /// when a filter names them: `selftests memory --large`.
    static let memory: [TestSpec] = [
        TestSpec(
            "memory/hash/cost",
            "HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH (1K, 64K; prealloc or not): memlock "
                + "within its bound of the cgroup charge; freeing returns the cgroup to baseline",
            timeoutSeconds: 120, expectedSeconds: 3),
        TestSpec(
            "memory/array/cost",
            "ARRAY, PERCPU_ARRAY (1K, 64K): memlock within its bound of the cgroup charge; "
                + "freeing returns the cgroup to baseline",
            timeoutSeconds: 60, expectedSeconds: 2),
        TestSpec(
            "memory/ringbuf/cost",
            "RINGBUF (64 KiB, 1 MiB): memlock within its bound of the cgroup charge; freeing "
                + "returns the cgroup to baseline",
            timeoutSeconds: 60),
        TestSpec(
            "memory/storage/sk",
            "SK_STORAGE on 256 sockets: memlock leaves the elements out; freeing the map or "
                + "the sockets uncharges everything",
            timeoutSeconds: 60),
        TestSpec(
            "memory/storage/task",
            "TASK_STORAGE on 64 tasks: memlock leaves the elements out; freeing the map "
                + "uncharges everything, freeing the tasks at most the elements' charge",
            timeoutSeconds: 60, expectedSeconds: 4.5),
        TestSpec(
            "memory/storage/cgrp",
            "CGRP_STORAGE on 256 cgroups: memlock leaves the elements out; freeing the map "
                + "uncharges everything, freeing the cgroups at most the elements' charge",
            timeoutSeconds: 60, expectedSeconds: 4),
        TestSpec(
            "memory/large/published",
            "the published case, HASH 4/4 × 1,048,576 preallocated: measured, memlock, naive",
            timeoutSeconds: 300, optInPrefix: "memory/large"),
        TestSpec(
            "memory/large/hash",
            "hash maps with 1M entries (and 64/256-byte keys/values × 64K) against their bounds",
            timeoutSeconds: 900, optInPrefix: "memory/large"),
        TestSpec(
            "memory/large/array",
            "ARRAY and PERCPU_ARRAY with 1M entries, a 16 MiB RINGBUF, against their bounds",
            timeoutSeconds: 300, optInPrefix: "memory/large"),
        TestSpec(
            "memory/large/storage",
            "local storage on 4096 sockets, 1024 tasks, 4096 cgroups: bounds and uncharging",
            timeoutSeconds: 600, optInPrefix: "memory/large"),
    ]
}
