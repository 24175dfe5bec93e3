/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Watching sockets die: for each socket whose SO_COOKIE a test put in the
 * watched map, what bpf_sk_storage_free() finds (elements still linked, the
 * option memory at entry) and leaves (the option memory at exit, which must
 * be zero). Shared by sk_storage_watch.bpf.c and storage_race.bpf.c; include
 * it after vmlinux.h and the libbpf headers.
 *
 * Tracing programs on bpf_sk_storage_*() may not call the sk storage
 * helpers, so the storage list is walked with CO-RE reads.
 */
#ifndef SK_DESTROY_WATCH_H
#define SK_DESTROY_WATCH_H

/* Elements counted on one socket before giving up. */
#ifndef MAX_ELEMS
#define MAX_ELEMS 32
#endif
#include "local_storage.h"
/* Sockets one test may watch. */
#ifndef MAX_WATCHED
#define MAX_WATCHED 256
#endif

/* Mirrored by SkDestroyRecord in SkStorageFamilyTests.swift: 16 bytes. */
struct sk_destroy_record {
	__s32 omem_at_entry;	/* -1 until seen */
	__u32 elems_at_entry;
	__s32 omem_at_exit;	/* -1 until seen */
	__u32 done;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_WATCHED);
	__type(key, __u64);
	__type(value, struct sk_destroy_record);
} watched SEC(".maps");

static struct sk_destroy_record *record_of(struct sock *sk)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;

	if (!cookie)
		return NULL;
	return bpf_map_lookup_elem(&watched, &cookie);
}

SEC("fentry/bpf_sk_storage_free")
int BPF_PROG(watch_free_entry, struct sock *sk)
{
	struct sk_destroy_record *record = record_of(sk);

	if (!record)
		return 0;
	record->elems_at_entry = count_elems(sk->sk_bpf_storage);
	record->omem_at_entry = sk->sk_omem_alloc.counter;
	return 0;
}

SEC("fexit/bpf_sk_storage_free")
int BPF_PROG(watch_free_exit, struct sock *sk)
{
	struct sk_destroy_record *record = record_of(sk);

	if (!record)
		return 0;
	record->omem_at_exit = sk->sk_omem_alloc.counter;
	__sync_fetch_and_add(&record->done, 1);
	return 0;
}

#endif /* SK_DESTROY_WATCH_H */
