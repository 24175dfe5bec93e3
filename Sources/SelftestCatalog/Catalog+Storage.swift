extension Catalog {
    /// Local storage: socket, task, cgroup and inode storage.
    static let storage: [TestSpec] = [
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
    ]
}
