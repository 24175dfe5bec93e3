// SPDX-License-Identifier: GPL-2.0
/*
 * Task local storage from BPF on the current task, and what
 * bpf_task_storage_free() finds when a task goes away.
 *
 * on_getppid runs on sys_enter of the one thread whose id the test wrote to
 * target_tid, and only for getppid(): the test sets op (and arg), calls
 * getppid(), and reads the outcome from the globals. It is a tracing
 * program, so the verifier gives it the helpers that must tolerate being
 * called inside the local-storage code itself.
 *
 * free_entry/free_exit watch bpf_task_storage_free() for the task whose pid
 * the test wrote to watch_pid: at entry, the most elements seen on the task
 * and whether one held the value the test stored; at exit, the elements
 * still linked (none: the storage went with the task). A kernel may call it
 * twice per task (as the BPF LSM's task_free hook and directly from
 * __put_task_struct()); only the first finds storage.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* "taskstor": marks values this program or the test wrote. */
#define TASK_MAGIC 0x7461736b73746f72ULL
#define NR_GETPPID 110		/* x86_64 */
#define MAX_ELEMS 16

enum task_op {
	TASK_OP_GET = 1,
	TASK_OP_GET_CREATE = 2,
	TASK_OP_DELETE = 3,
};

/* Mirrored by TaskValue in TaskStorageTests.swift: 16 bytes. */
struct task_value {
	__u64 magic;
	__u64 generation;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_value);
} task_map SEC(".maps");

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

/* The exiting task to watch, and what the watchers saw. */
__u32 watch_pid;
__u64 watch_generation;
__u32 free_entry_calls;
__u32 elems_at_entry;
__u32 value_at_entry;
__u32 elems_at_exit;
__u32 free_exit_calls;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_getppid, struct pt_regs *regs, long id)
{
	struct task_value init = { .magic = TASK_MAGIC };
	struct task_struct *task;
	struct task_value *value;

	if (id != NR_GETPPID || (__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;

	task = bpf_get_current_task_btf();
	switch (op) {
	case TASK_OP_GET:
		value = bpf_task_storage_get(&task_map, task, 0, 0);
		last_ret = 0;
		break;
	case TASK_OP_GET_CREATE:
		init.generation = arg;
		value = bpf_task_storage_get(&task_map, task, &init,
					     BPF_LOCAL_STORAGE_GET_F_CREATE);
		last_ret = 0;
		break;
	case TASK_OP_DELETE:
		value = NULL;
		last_ret = bpf_task_storage_delete(&task_map, task);
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

static bool storage_has_value(struct bpf_local_storage *storage,
			      __u32 *elems)
{
	struct bpf_local_storage_elem *selem;
	struct hlist_node *node;
	struct task_value value;
	bool found = false;
	int i;

	*elems = 0;
	if (!storage)
		return false;
	node = BPF_CORE_READ(storage, list.first);
	for (i = 0; i < MAX_ELEMS && node; i++) {
		(*elems)++;
		selem = (void *)node -
			bpf_core_field_offset(struct bpf_local_storage_elem,
					      snode);
		if (!bpf_core_read(&value, sizeof(value), &selem->sdata.data) &&
		    value.magic == TASK_MAGIC &&
		    value.generation == watch_generation)
			found = true;
		node = BPF_CORE_READ(node, next);
	}
	return found;
}

SEC("fentry/bpf_task_storage_free")
int BPF_PROG(free_entry, struct task_struct *task)
{
	__u32 elems;

	if (!watch_pid || task->pid != watch_pid)
		return 0;
	free_entry_calls++;
	if (storage_has_value(task->bpf_storage, &elems))
		value_at_entry = 1;
	if (elems > elems_at_entry)
		elems_at_entry = elems;
	return 0;
}

SEC("fexit/bpf_task_storage_free")
int BPF_PROG(free_exit, struct task_struct *task)
{
	__u32 elems;

	if (!watch_pid || task->pid != watch_pid)
		return 0;
	storage_has_value(task->bpf_storage, &elems);
	elems_at_exit = elems;
	free_exit_calls++;
	return 0;
}

char _license[] SEC("license") = "GPL";
