// SPDX-License-Identifier: GPL-2.0
/*
 * Cgroup local storage from BPF on the current task's cgroup, and what
 * bpf_cgrp_storage_free() finds when a cgroup goes away.
 *
 * on_getppid runs on sys_enter of the thread whose id the test wrote to
 * target_tid, for getppid() only, and applies op to the element of that
 * thread's cgroup (cgroup v2): the test moves itself into a cgroup of its own
 * first.
 *
 * free_entry/free_exit watch bpf_cgrp_storage_free() for the cgroup whose id
 * (its directory's inode number) the test wrote to watch_id.
 *
 * This object must compile against kernels older than cgroup storage, so
 * that the tests can skip there with a reason instead of failing to build:
 * the map type is spelled as its number, and the cgroup's storage pointer is
 * read through a local CO-RE type. The tests probe for the map type before
 * they load this object.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "local_storage.h"

/* BPF_MAP_TYPE_CGRP_STORAGE, absent from older kernels' vmlinux.h. */
#define MAP_TYPE_CGRP_STORAGE 32
/* "cgrpstor": marks values this program or the test wrote. */
#define CGRP_MAGIC 0x6367727073746f72ULL
#define NR_GETPPID 110		/* x86_64 */

enum cgrp_op {
	CGRP_OP_GET = 1,
	CGRP_OP_GET_CREATE = 2,
	CGRP_OP_DELETE = 3,
};

/* Mirrored by CgrpValue in CgrpStorageTests.swift: 16 bytes. */
struct cgrp_value {
	__u64 magic;
	__u64 generation;
};

struct cgroup___with_storage {
	struct bpf_local_storage *bpf_cgrp_storage;
} __attribute__((preserve_access_index));

struct {
	__uint(type, MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cgrp_value);
} cgrp_map SEC(".maps");

/* Set by the test. */
__u32 target_tid;
__u32 op;
__u64 arg;

/* Outcome of the last operation. */
__u32 calls;
__s64 last_ret;
__u32 last_found;
__u64 last_magic;
__u64 last_generation;
__u64 last_cgroup_id;

/* The cgroup to watch, and what the watchers saw. */
__u64 watch_id;
__u32 free_entry_calls;
__u32 elems_at_entry;
__u32 elems_at_exit;
__u32 free_done;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_getppid, struct pt_regs *regs, long id)
{
	struct cgrp_value init = { .magic = CGRP_MAGIC };
	struct task_struct *task;
	struct cgrp_value *value;
	struct cgroup *cgrp;

	if (id != NR_GETPPID || (__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;

	task = bpf_get_current_task_btf();
	cgrp = task->cgroups->dfl_cgrp;
	last_cgroup_id = cgrp->kn->id;
	switch (op) {
	case CGRP_OP_GET:
		value = bpf_cgrp_storage_get(&cgrp_map, cgrp, 0, 0);
		last_ret = 0;
		break;
	case CGRP_OP_GET_CREATE:
		init.generation = arg;
		value = bpf_cgrp_storage_get(&cgrp_map, cgrp, &init,
					     BPF_LOCAL_STORAGE_GET_F_CREATE);
		last_ret = 0;
		break;
	case CGRP_OP_DELETE:
		value = NULL;
		last_ret = bpf_cgrp_storage_delete(&cgrp_map, cgrp);
		break;
	default:
		return 0;
	}
	last_found = value != NULL;
	last_magic = value ? value->magic : 0;
	last_generation = value ? value->generation : 0;
	calls++;
	return 0;
}

static __u32 cgrp_elems(struct cgroup *cgrp)
{
	struct cgroup___with_storage *c = (void *)cgrp;

	return count_elems(BPF_CORE_READ(c, bpf_cgrp_storage));
}

static bool is_watched(struct cgroup *cgrp)
{
	return watch_id && BPF_CORE_READ(cgrp, kn, id) == watch_id;
}

SEC("fentry/bpf_cgrp_storage_free")
int BPF_PROG(free_entry, struct cgroup *cgrp)
{
	if (!is_watched(cgrp))
		return 0;
	free_entry_calls++;
	elems_at_entry = cgrp_elems(cgrp);
	return 0;
}

SEC("fexit/bpf_cgrp_storage_free")
int BPF_PROG(free_exit, struct cgroup *cgrp)
{
	if (!is_watched(cgrp))
		return 0;
	elems_at_exit = cgrp_elems(cgrp);
	free_done = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
