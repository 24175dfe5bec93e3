// SPDX-License-Identifier: GPL-2.0
/*
 * Task storage helpers re-entered from inside the local-storage code.
 *
 * on_getppid (sys_enter of the test thread, getppid() only) creates the
 * thread's element in outer_map. Creating it runs bpf_local_storage_update();
 * one of the nested programs below is attached inside that path and, on the
 * same task, while the outer update is in progress:
 *
 *   - looks up the element the test put in probe_map beforehand: a lookup
 *     of existing storage takes no lock, so it must find it;
 *   - deletes the element the test put in victim_map: this needs the
 *     owner's lock, so the kernel may refuse (busy, deadlock) but must not
 *     spin on a lock its own caller holds;
 *   - asks for outer_map's element with F_CREATE: may fail, may succeed
 *     (then the outer create finds it there), must not deadlock.
 *
 * nested_in_update runs at the entry of bpf_local_storage_update(), before
 * any lock is taken; nested_in_link_map runs in bpf_selem_link_map(), which
 * the update calls with the task's local_storage->lock held (the task already
 * has storage, so this is not the first-element path).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define NR_GETPPID 110		/* x86_64 */
#define OUTER_VALUE 100

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} outer_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} probe_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} victim_map SEC(".maps");

/* Set by the test. */
__u32 target_tid;

/* Written by the outer program. */
__u32 armed;
__u32 outer_found;
__u32 outer_done;

/* Written by the nested program: its first run only. */
__u32 nested_calls;
__u32 nested_probe_found;
__u64 nested_probe_value;
__s64 nested_delete_ret;
__u32 nested_create_found;

static bool is_target(void)
{
	return armed && (__u32)bpf_get_current_pid_tgid() == target_tid;
}

static void nested(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 *value;

	if (nested_calls++)
		return;
	value = bpf_task_storage_get(&probe_map, task, 0, 0);
	nested_probe_found = value != NULL;
	nested_probe_value = value ? *value : 0;
	nested_delete_ret = bpf_task_storage_delete(&victim_map, task);
	value = bpf_task_storage_get(&outer_map, task, 0,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	nested_create_found = value != NULL;
}

SEC("fentry/bpf_local_storage_update")
int BPF_PROG(nested_in_update)
{
	if (is_target())
		nested();
	return 0;
}

SEC("fentry/bpf_selem_link_map")
int BPF_PROG(nested_in_link_map)
{
	if (is_target())
		nested();
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_getppid, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	__u64 *value;

	if (id != NR_GETPPID || (__u32)bpf_get_current_pid_tgid() != target_tid)
		return 0;

	task = bpf_get_current_task_btf();
	armed = 1;
	value = bpf_task_storage_get(&outer_map, task, 0,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	armed = 0;
	outer_found = value != NULL;
	if (value && !*value)
		*value = OUTER_VALUE;
	outer_done = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
