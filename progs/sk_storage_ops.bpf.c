// SPDX-License-Identifier: GPL-2.0
/*
 * Socket local storage driven from BPF: bpf_sk_storage_get() (with and
 * without BPF_SK_STORAGE_GET_F_CREATE) and bpf_sk_storage_delete(), and a
 * value holding a struct bpf_spin_lock.
 *
 * The test drives the program through setsockopt() at a private level:
 * cgroup/setsockopt runs in the calling task on the socket being configured,
 * so user space chooses both the socket (the fd it passes) and the operation
 * (optname), and passes an argument in optval. The program tells the kernel
 * to skip its own handler (optlen = -1), so setsockopt() returns 0 and the
 * outcome is read back from the globals below.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* "sk_ops!!": marks values this program or the test wrote. */
#define SK_OPS_MAGIC 0x736b5f6f70732121ULL
/* The setsockopt() level no protocol uses. */
#define SOL_SELFTESTS 0x5354

/*
 * GET looks up and never creates; GET_CREATE creates with the argument as
 * generation if absent; LOCKED_ADD adds one to both counters under the lock.
 */
enum sk_op {
	SK_OP_GET = 1,
	SK_OP_GET_CREATE = 2,
	SK_OP_DELETE = 3,
	SK_OP_LOCKED_ADD = 4,
};

/* Mirrored by SkOpsValue in SkOpsProgram.swift: 16 bytes. */
struct sk_ops_value {
	__u64 magic;
	__u64 generation;
};

/* Mirrored by SkLockedValue in SkOpsProgram.swift: 24 bytes. */
struct sk_locked_value {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_ops_value);
} sk_ops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_locked_value);
} sk_locked SEC(".maps");

/* The clone test's locked values: copied to accepted sockets under the lock. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sk_locked_value);
} sk_locked_clone SEC(".maps");

/* Outcome of the last single-threaded operation. */
__u32 calls;
__s64 last_ret;		/* 0, or the helper's negative errno */
__u32 last_found;	/* whether get returned an element */
__u64 last_magic;
__u64 last_generation;

/* SK_OP_LOCKED_ADD: elements the helper could not return. */
__u32 locked_misses;

static __u64 read_arg(struct bpf_sockopt *ctx)
{
	__u8 *optval = ctx->optval;
	__u8 *end = ctx->optval_end;

	if (optval + sizeof(__u64) > end)
		return 0;
	return *(__u64 *)optval;
}

static void report(struct sk_ops_value *value)
{
	last_found = value != NULL;
	last_magic = value ? value->magic : 0;
	last_generation = value ? value->generation : 0;
}

SEC("cgroup/setsockopt")
int sk_storage_op(struct bpf_sockopt *ctx)
{
	struct sk_ops_value init = { .magic = SK_OPS_MAGIC };
	struct sk_locked_value *locked;
	struct sk_ops_value *value;
	struct bpf_sock *sk = ctx->sk;

	if (ctx->level != SOL_SELFTESTS || !sk)
		return 1;

	switch (ctx->optname) {
	case SK_OP_GET:
		value = bpf_sk_storage_get(&sk_ops, sk, 0, 0);
		report(value);
		last_ret = 0;
		break;
	case SK_OP_GET_CREATE:
		init.generation = read_arg(ctx);
		value = bpf_sk_storage_get(&sk_ops, sk, &init,
					   BPF_SK_STORAGE_GET_F_CREATE);
		report(value);
		last_ret = 0;
		break;
	case SK_OP_DELETE:
		last_ret = bpf_sk_storage_delete(&sk_ops, sk);
		break;
	case SK_OP_LOCKED_ADD:
		locked = bpf_sk_storage_get(&sk_locked, sk, 0,
					    BPF_SK_STORAGE_GET_F_CREATE);
		if (!locked) {
			__sync_fetch_and_add(&locked_misses, 1);
			break;
		}
		bpf_spin_lock(&locked->lock);
		locked->a++;
		locked->b++;
		bpf_spin_unlock(&locked->lock);
		break;
	default:
		return 1;
	}
	__sync_fetch_and_add(&calls, 1);
	/* Done here: the kernel's own setsockopt() must not see this level. */
	ctx->optlen = -1;
	return 1;
}

char _license[] SEC("license") = "GPL";
