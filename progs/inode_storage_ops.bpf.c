// SPDX-License-Identifier: GPL-2.0
/*
 * Inode local storage attached by a BPF LSM program, and what
 * bpf_inode_storage_free() finds when the inode goes away.
 *
 * on_file_open (lsm/file_open) runs while the test process opens its file
 * (target_ino): it creates the inode's element (or finds it) and counts the
 * open, so user space can read the element back through any fd of that file.
 *
 * on_inode_free and free_exit watch the inode whose number the test wrote to
 * watch_ino as it is freed: the element must be there when the inode starts
 * going away, and unlinked once bpf_inode_storage_free() returns.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "local_storage.h"

/* "inodstor": marks values this program wrote. */
#define INODE_MAGIC 0x696e6f6473746f72ULL

/* Mirrored by InodeValue in InodeStorageTests.swift: 24 bytes. */
struct inode_value {
	__u64 magic;
	__u64 ino;
	__u64 opens;
};

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inode_value);
} inode_map SEC(".maps");

/* Set by the test: its process id, and the number of the inode it opens. */
__u32 target_tgid;
__u64 target_ino;

__u32 opens_seen;
__u32 create_failed;
__u64 last_ino;

/* The inode to watch (number, and the kernel's dev_t of its file system),
 * and what the watchers saw as it was freed. */
__u64 watch_ino;
__u32 watch_dev;
__u32 free_calls;
__u32 value_at_free;
__u64 opens_at_free;
__u64 storage_at_free;
__u32 elems_at_exit;
__u32 free_done;

SEC("lsm/file_open")
int BPF_PROG(on_file_open, struct file *file)
{
	struct inode_value init = { .magic = INODE_MAGIC };
	struct inode_value *value;
	struct inode *inode;

	if (!target_tgid || bpf_get_current_pid_tgid() >> 32 != target_tgid)
		return 0;
	inode = file->f_inode;
	if (!inode || inode->i_ino != target_ino)
		return 0;
	init.ino = inode->i_ino;
	value = bpf_inode_storage_get(&inode_map, inode, &init,
				      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!value) {
		create_failed++;
		return 0;
	}
	__sync_fetch_and_add(&value->opens, 1);
	last_ino = init.ino;
	opens_seen++;
	return 0;
}

static bool is_watched(struct inode *inode)
{
	return watch_ino && inode->i_ino == watch_ino &&
	       inode->i_sb->s_dev == watch_dev;
}

/*
 * The BPF LSM's own inode_free_security hook is bpf_inode_storage_free(); the
 * programs attached to the hook run before it, so the element must still be
 * there. Keep its local_storage: the exit watcher reads its list.
 */
SEC("lsm/inode_free_security")
int BPF_PROG(on_inode_free, struct inode *inode)
{
	struct bpf_local_storage_elem *selem;
	struct inode_value *value;

	if (!is_watched(inode))
		return 0;
	free_calls++;
	value = bpf_inode_storage_get(&inode_map, inode, 0, 0);
	if (!value)
		return 0;
	value_at_free = value->magic == INODE_MAGIC && value->ino == watch_ino;
	opens_at_free = value->opens;
	selem = (void *)value -
		bpf_core_field_offset(struct bpf_local_storage_elem, sdata) -
		bpf_core_field_offset(struct bpf_local_storage_data, data);
	storage_at_free = (__u64)BPF_CORE_READ(selem, local_storage);
	return 0;
}

SEC("fexit/bpf_inode_storage_free")
int BPF_PROG(free_exit, struct inode *inode)
{
	if (!is_watched(inode))
		return 0;
	elems_at_exit = count_elems((void *)storage_at_free);
	free_done = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
