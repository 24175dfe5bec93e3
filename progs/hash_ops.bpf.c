// SPDX-License-Identifier: GPL-2.0
/*
 * The program side of the hash tests.
 *
 * One map, target, stands for every hash map variant: before loading, user
 * space sets its type (HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH), its
 * flags (BPF_F_NO_PREALLOC, BPF_F_NO_COMMON_LRU) and its size, so the same
 * programs run against each variant. The key and the value are structs
 * (composite), mirrored by HashKey and HashValue in the Swift tests.
 *
 * User space runs the programs with BPF_PROG_TEST_RUN on a chosen CPU
 * (BPF_F_TEST_RUN_ON_CPU). run_op does one map operation picked by ctx[0],
 * on the key in arg_key, and leaves the result in the out_* globals; the
 * concurrent operations (HT_OP_ADD, HT_OP_CHECK) only read arg_key and keep
 * their tallies with atomics, because several CPUs run them at once.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define EINVAL 22
#define ENOENT 2
#define MAX_CPUS 64
#define VALUE_WORDS 8
/* How long a concurrent run waits for the others, in checks of inflight. */
#define PEER_WAIT_CHECKS (1 << 16)

enum {
	HT_OP_UPDATE = 1,	/* bpf_map_update_elem(arg_key, arg_value, ctx[1]) */
	HT_OP_LOOKUP = 2,	/* bpf_map_lookup_elem(arg_key) into out_value */
	HT_OP_DELETE = 3,	/* bpf_map_delete_elem(arg_key) */
	HT_OP_WRITE = 4,	/* write arg_value through the looked-up pointer */
	HT_OP_ADD = 5,	/* ctx[1] times: __sync_fetch_and_add(&value->words[0], 1) */
	HT_OP_CHECK = 6,	/* ctx[1] times: is the value uniform (all words equal)? */
};

/* Mirrored by HashKey: 16 bytes, no implicit padding. */
struct ht_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* Mirrored by HashValue: 64 bytes. */
struct ht_value {
	__u64 words[VALUE_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct ht_key);
	__type(value, struct ht_value);
} target SEC(".maps");

/* Inputs, written by user space before a run. */
struct ht_key arg_key;
struct ht_value arg_value;

/* Results of the last sequential run. */
struct ht_value out_value;
__s64 out_ret;
__u32 out_found;
__u32 out_cpu;

/* Tallies of the concurrent operations. */
__u64 add_calls[MAX_CPUS];
__u64 inflight;
__u64 overlaps;
__u64 checked_reads;
__u64 torn_reads;
__u64 missing_reads;

static bool uniform(const struct ht_value *value)
{
	__u64 first = value->words[0];
	int i;

	for (i = 1; i < VALUE_WORDS; i++)
		if (value->words[i] != first)
			return false;
	return true;
}

static long add_one(__u64 index, void *unused)
{
	struct ht_value *value = bpf_map_lookup_elem(&target, &arg_key);

	if (!value)
		return 1;
	__sync_fetch_and_add(&value->words[0], 1);
	return 0;
}

static long check_one(__u64 index, void *unused)
{
	struct ht_value *value = bpf_map_lookup_elem(&target, &arg_key);
	struct ht_value copy;

	if (!value) {
		__sync_fetch_and_add(&missing_reads, 1);
		return 0;
	}
	__builtin_memcpy(&copy, value, sizeof(copy));
	__sync_fetch_and_add(&checked_reads, 1);
	if (!uniform(&copy))
		__sync_fetch_and_add(&torn_reads, 1);
	return 0;
}

static long peers_inside(__u64 index, void *peers)
{
	return inflight >= *(__u64 *)peers;
}

/* Runs count iterations of fn, once the runs of the other CPUs are inside
 * too (peers in all, waiting a bounded number of checks): a sum that is
 * exact proves atomic adds only if the runs overlapped, so the overlapping
 * runs are counted.
 */
static __always_inline int run_concurrent(__u64 count, __u64 peers,
					  long (*fn)(__u64, void *))
{
	__u32 cpu = bpf_get_smp_processor_id();
	long done;

	__sync_fetch_and_add(&inflight, 1);
	if (peers > 1 &&
	    bpf_loop(PEER_WAIT_CHECKS, peers_inside, &peers, 0) < PEER_WAIT_CHECKS)
		__sync_fetch_and_add(&overlaps, 1);
	done = bpf_loop(count, fn, NULL, 0);
	__sync_fetch_and_add(&inflight, -1);
	if (cpu < MAX_CPUS)
		__sync_fetch_and_add(&add_calls[cpu], done);
	return done == count ? 0 : 1;
}

SEC("raw_tp")
int run_op(__u64 *ctx)
{
	__u64 op = ctx[0], arg = ctx[1], peers = ctx[2];
	struct ht_value *value;

	switch (op) {
	case HT_OP_UPDATE:
		out_ret = bpf_map_update_elem(&target, &arg_key, &arg_value, arg);
		break;
	case HT_OP_LOOKUP:
		value = bpf_map_lookup_elem(&target, &arg_key);
		out_found = value != NULL;
		if (value)
			__builtin_memcpy(&out_value, value, sizeof(out_value));
		out_ret = value ? 0 : -ENOENT;
		break;
	case HT_OP_DELETE:
		out_ret = bpf_map_delete_elem(&target, &arg_key);
		break;
	case HT_OP_WRITE:
		value = bpf_map_lookup_elem(&target, &arg_key);
		out_found = value != NULL;
		if (value)
			__builtin_memcpy(value, &arg_value, sizeof(*value));
		out_ret = value ? 0 : -ENOENT;
		break;
	case HT_OP_ADD:
		return run_concurrent(arg, peers, add_one);
	case HT_OP_CHECK:
		return run_concurrent(arg, peers, check_one);
	default:
		out_ret = -EINVAL;
		break;
	}
	out_cpu = bpf_get_smp_processor_id();
	return 0;
}

/* Loaded only for the per-CPU variants: the verifier refuses
 * bpf_map_lookup_percpu_elem() on any other map.
 */
SEC("raw_tp")
int read_percpu(__u64 *ctx)
{
	struct ht_value *value;

	value = bpf_map_lookup_percpu_elem(&target, &arg_key, ctx[0]);
	out_found = value != NULL;
	if (value)
		__builtin_memcpy(&out_value, value, sizeof(out_value));
	out_ret = value ? 0 : -ENOENT;
	out_cpu = bpf_get_smp_processor_id();
	return 0;
}

char _license[] SEC("license") = "GPL";
