// SPDX-License-Identifier: GPL-2.0
/*
 * Task storage under stress: the same map touched from a sleepable LSM
 * program, from a tracing program on every system call, and from user space,
 * by many threads at once.
 *
 * on_socket (lsm.s/socket_post_create) runs in each test thread that creates
 * a socket: it creates the thread's element and deletes it again. A sleepable
 * LSM program gets the helpers that take the storage lock outright, so under
 * contention they must wait, not fail: get_fail and delete_fail count what
 * would be a spurious failure.
 *
 * on_syscall (tp_btf/sys_enter) does the same on every system call of the
 * test's threads, on whatever CPU they run. It is a tracing program, whose
 * helpers may refuse when they detect possible recursion, so its failures are
 * only counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define ENOENT 2

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} stress_map SEC(".maps");

/* Set by the test: its process id (every thread shares it). */
__u32 target_tgid;

__u64 socket_ops;
__u64 get_fail;
__u64 delete_fail;
__s64 last_delete_error;

__u64 syscall_ops;
__u64 syscall_get_fail;
__u64 syscall_delete_fail;

static bool is_target(void)
{
	return target_tgid && bpf_get_current_pid_tgid() >> 32 == target_tgid;
}

SEC("lsm.s/socket_post_create")
int BPF_PROG(on_socket, struct socket *sock, int family, int type,
	     int protocol, int kern)
{
	struct task_struct *task;
	__u64 *value;
	long err;

	if (!is_target())
		return 0;
	task = bpf_get_current_task_btf();
	value = bpf_task_storage_get(&stress_map, task, 0,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!value) {
		__sync_fetch_and_add(&get_fail, 1);
	} else {
		*value += 1;
		err = bpf_task_storage_delete(&stress_map, task);
		if (err) {
			__sync_fetch_and_add(&delete_fail, 1);
			last_delete_error = err;
		}
	}
	__sync_fetch_and_add(&socket_ops, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_syscall, struct pt_regs *regs, long id)
{
	struct task_struct *task;
	__u64 *value;
	long err;

	if (!is_target())
		return 0;
	task = bpf_get_current_task_btf();
	value = bpf_task_storage_get(&stress_map, task, 0,
				     BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!value) {
		__sync_fetch_and_add(&syscall_get_fail, 1);
	} else {
		err = bpf_task_storage_delete(&stress_map, task);
		if (err && err != -ENOENT)
			__sync_fetch_and_add(&syscall_delete_fail, 1);
	}
	__sync_fetch_and_add(&syscall_ops, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
