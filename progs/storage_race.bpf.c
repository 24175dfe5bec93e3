// SPDX-License-Identifier: GPL-2.0
/*
 * Witnesses for the map_free / owner destroy race.
 *
 * The race test frees local storage maps while the sockets, tasks and
 * cgroups holding their elements are destroyed. These programs only watch:
 *
 *   map_free_exit counts the bpf_local_storage_map_free() calls that returned
 *   for the test's maps (named "lsrace*"), so the test knows when every map
 *   it dropped is really gone;
 *
 *   sk_free_entry/sk_free_exit record, for each socket whose SO_COOKIE the
 *   test put in watched, the elements still on it and its option memory
 *   once bpf_sk_storage_free() is done with it (must be zero).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_ELEMS 32
#define MAX_WATCHED 1024

/* Mirrored by SkDestroyRecord in SkStorageFamilyTests.swift: 16 bytes. */
struct sk_destroy_record {
	__s32 omem_at_entry;
	__u32 elems_at_entry;
	__s32 omem_at_exit;
	__u32 done;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_WATCHED);
	__type(key, __u64);
	__type(value, struct sk_destroy_record);
} watched SEC(".maps");

__u64 maps_freed;

SEC("fexit/bpf_local_storage_map_free")
int BPF_PROG(map_free_exit, struct bpf_map *map)
{
	char name[8] = {};

	bpf_probe_read_kernel(name, sizeof(name), map->name);
	if (name[0] == 'l' && name[1] == 's' && name[2] == 'r' &&
	    name[3] == 'a' && name[4] == 'c' && name[5] == 'e')
		__sync_fetch_and_add(&maps_freed, 1);
	return 0;
}

static struct sk_destroy_record *record_of(struct sock *sk)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&watched, &cookie);
}

static __u32 count_elems(struct bpf_local_storage *storage)
{
	struct hlist_node *node;
	__u32 n = 0;
	int i;

	if (!storage)
		return 0;
	node = BPF_CORE_READ(storage, list.first);
	for (i = 0; i < MAX_ELEMS && node; i++) {
		n++;
		node = BPF_CORE_READ(node, next);
	}
	return n;
}

SEC("fentry/bpf_sk_storage_free")
int BPF_PROG(sk_free_entry, struct sock *sk)
{
	struct sk_destroy_record *record = record_of(sk);

	if (!record)
		return 0;
	record->elems_at_entry = count_elems(sk->sk_bpf_storage);
	record->omem_at_entry = sk->sk_omem_alloc.counter;
	return 0;
}

SEC("fexit/bpf_sk_storage_free")
int BPF_PROG(sk_free_exit, struct sock *sk)
{
	struct sk_destroy_record *record = record_of(sk);

	if (!record)
		return 0;
	record->omem_at_exit = sk->sk_omem_alloc.counter;
	__sync_fetch_and_add(&record->done, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
