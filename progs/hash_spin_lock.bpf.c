// SPDX-License-Identifier: GPL-2.0
/*
 * A hash map value that holds a struct bpf_spin_lock.
 *
 * The hash/spin_lock test runs locked_write and locked_read on every CPU at
 * once while user space updates and looks up the same element with
 * BPF_F_LOCK. Every writer stores one number in all the words of the value,
 * under the lock, so a reader that holds the lock (or uses BPF_F_LOCK) must
 * always see all the words equal. locked_read counts what it saw.
 *
 * The programs are tc programs run with BPF_PROG_TEST_RUN on a dummy packet
 * by a thread pinned to each CPU: tracing programs may not take a
 * bpf_spin_lock.
 *
 * User space may switch the map to BPF_F_NO_PREALLOC before loading; the
 * kernel refuses a spin lock in every other hash map type (the test checks
 * that too, with this file's BTF).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define LOCK_WORDS 14
/* Lock round trips per program run: enough to overlap with the other CPU. */
#define ROUNDS 32

/* Mirrored by LockValue in the Swift test: 120 bytes. */
struct lock_value {
	struct bpf_spin_lock lock;
	__u32 writer;
	__u64 words[LOCK_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct lock_value);
} locked SEC(".maps");

__u64 writes;
__u64 reads;
__u64 torn_reads;
__u64 missing;

/* Each run stores numbers no other run stores: its CPU in the top bits, a
 * count of all writes below, plus the round.
 */
SEC("tc")
int locked_write(struct __sk_buff *skb)
{
	struct lock_value *value;
	__u32 key = 0, cpu = bpf_get_smp_processor_id();
	__u64 base;
	int round, i;

	value = bpf_map_lookup_elem(&locked, &key);
	if (!value) {
		__sync_fetch_and_add(&missing, 1);
		return 1;
	}
	base = ((__u64)cpu + 1) << 48 | __sync_fetch_and_add(&writes, ROUNDS);
	for (round = 0; round < ROUNDS; round++) {
		bpf_spin_lock(&value->lock);
		value->writer = cpu;
#pragma unroll
		for (i = 0; i < LOCK_WORDS; i++)
			value->words[i] = base + round;
		bpf_spin_unlock(&value->lock);
	}
	return 0;
}

SEC("tc")
int locked_read(struct __sk_buff *skb)
{
	__u64 copy[LOCK_WORDS];
	struct lock_value *value;
	__u32 key = 0;
	int round, i;
	bool torn;

	value = bpf_map_lookup_elem(&locked, &key);
	if (!value) {
		__sync_fetch_and_add(&missing, 1);
		return 1;
	}
	for (round = 0; round < ROUNDS; round++) {
		bpf_spin_lock(&value->lock);
#pragma unroll
		for (i = 0; i < LOCK_WORDS; i++)
			copy[i] = value->words[i];
		bpf_spin_unlock(&value->lock);

		torn = false;
#pragma unroll
		for (i = 1; i < LOCK_WORDS; i++)
			if (copy[i] != copy[0])
				torn = true;
		if (torn)
			__sync_fetch_and_add(&torn_reads, 1);
	}
	__sync_fetch_and_add(&reads, ROUNDS);
	return 0;
}

char _license[] SEC("license") = "GPL";
