extension Catalog {
    /// Local storage: socket, task, cgroup and inode storage, and the race
    /// between freeing a map and destroying the owners of its elements.
    static let storage: [TestSpec] =
        socketStorage + taskStorage + cgroupStorage
        + inodeStorage + storageRace

    static let socketStorage: [TestSpec] = [
        TestSpec(
            "storage/sk/omem_charge_delete",
            "socket storage is charged to SK_MEMINFO_OPTMEM on update and uncharged on delete",
            object: "sk_storage_omem"),
        TestSpec(
            "storage/sk/omem_uncharge_on_close",
            "on socket destroy, a program sees the storage and the option memory back at zero",
            object: "sk_storage_omem"),
        TestSpec(
            "storage/sk/omem_uncharge_on_map_free",
            "freeing the map while the socket lives returns its option memory to baseline",
            object: "sk_storage_omem"),
        TestSpec(
            "storage/sk/omem_refused_over_optmem_max",
            "storage past optmem_max is refused with ENOMEM, leaves no charge, fits after a delete"),
        TestSpec(
            "storage/sk/omem_many_maps_many_sockets",
            "4 maps x 8 sockets freed maps-first and sockets-first: every charge back, none lingers",
            object: "sk_storage_watch"),
        TestSpec(
            "storage/sk/user_update_flags",
            "user space by socket fd: BPF_ANY/NOEXIST/EXIST/F_LOCK give EEXIST, ENOENT, EINVAL"),
        TestSpec(
            "storage/sk/bpf_get_create_delete",
            "bpf_sk_storage_get(F_CREATE) and bpf_sk_storage_delete agree with user space",
            object: "sk_storage_ops"),
        TestSpec(
            "storage/sk/spin_lock_value",
            "bpf_spin_lock values: BPF_F_LOCK updates in place, locked reads never torn",
            object: "sk_storage_ops"),
        TestSpec(
            "storage/sk/clone_to_accepted",
            "BPF_F_CLONE storage on a listener is copied to the accepted socket, other maps not",
            object: "sk_storage_ops"),
    ]

    static let taskStorage: [TestSpec] = [
        TestSpec(
            "storage/task/user_pidfd_access",
            "user space by pidfd: update flags, per-task elements, reaped task and non-pidfd refused"
        ),
        TestSpec(
            "storage/task/bpf_get_delete_current",
            "bpf_task_storage_get/delete on the current task agree with user space",
            object: "task_storage_ops"),
        TestSpec(
            "storage/task/freed_on_task_exit",
            "bpf_task_storage_free() finds the task's element and leaves none linked",
            object: "task_storage_ops"),
        TestSpec(
            "storage/task/recursion_no_deadlock",
            "helpers re-entered inside bpf_local_storage_update and under its lock: no deadlock",
            object: "task_storage_recursion"),
        TestSpec(
            "storage/task/nodeadlock_stress",
            "LSM, tracing and user-space access to one map from many threads: no hang, no failure",
            object: "task_storage_nodeadlock", timeoutSeconds: 60, expectedSeconds: 2.2),
    ]

    static let cgroupStorage: [TestSpec] = [
        TestSpec(
            "storage/cgrp/user_fd_access",
            "user space by cgroup fd: update flags, per-cgroup elements, non-cgroup fd refused"),
        TestSpec(
            "storage/cgrp/bpf_get_delete_current",
            "bpf_cgrp_storage_get/delete on the current task's cgroup agree with user space",
            object: "cgrp_storage_ops"),
        TestSpec(
            "storage/cgrp/freed_on_rmdir",
            "removing a cgroup frees its storage: none linked after bpf_cgrp_storage_free()",
            object: "cgrp_storage_ops"),
    ]

    static let inodeStorage: [TestSpec] = [
        TestSpec(
            "storage/inode/lsm_file_open_storage",
            "an lsm/file_open program attaches storage to the inode; read back by file fd",
            object: "inode_storage_ops"),
        TestSpec(
            "storage/inode/freed_on_inode_evict",
            "an evicted inode's storage is there at inode_free_security and unlinked after",
            object: "inode_storage_ops"),
    ]

    static let storageRace: [TestSpec] = [
        TestSpec(
            "storage/race/map_free_vs_owner_destroy",
            "maps freed while their sockets/tasks/cgroups die: charges back, memcg at baseline",
            object: "storage_race", timeoutSeconds: 90, expectedSeconds: 3.6)
    ]
}
