// SPDX-License-Identifier: GPL-2.0
/*
 * Socket local storage and the socket's option memory (sk_omem_alloc).
 *
 * The storage/sk/omem_* tests add a struct sk_value to a socket through the
 * sk_storage map below, from user space. Every element (and the socket's
 * struct bpf_local_storage) is charged to sk->sk_omem_alloc, which user space
 * reads as SK_MEMINFO_OPTMEM. When the socket is destroyed, __sk_destruct()
 * calls bpf_sk_storage_free(): the two programs here watch that call for the
 * one socket whose cookie the test wrote to target_cookie, and record what
 * they saw:
 *
 *   entry: whether the socket still had its storage, whether an element held
 *          the test's value (magic and cookie), and the charge at that point;
 *   exit:  the charge once the storage is gone, which must be zero.
 *
 * bpf_sk_storage_get() is not allowed in programs that trace
 * bpf_sk_storage_*() functions, so the entry program walks the storage list
 * with CO-RE reads instead.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* "skstorag": marks the values the tests write. */
#define SK_VALUE_MAGIC 0x736b73746f726167ULL
/* Elements looked at on one socket before giving up. */
#define MAX_ELEMS 8

/* Mirrored by SkValue in SkStorageTests.swift: 48 bytes. */
struct sk_value {
	__u64 magic;
	__u64 cookie;
	__u64 payload[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_value);
} sk_storage SEC(".maps");

/* Set by the test: the SO_COOKIE of the socket to watch (0: none). */
__u64 target_cookie;

/* Recorded at entry to bpf_sk_storage_free(). */
__u32 entry_calls;
__u32 seen_storage;
__u32 seen_value;
__s32 omem_at_entry;

/* Recorded at exit from bpf_sk_storage_free(); done is written last. */
__u32 exit_calls;
__s32 omem_at_exit;
__u32 done;

static bool is_target(struct sock *sk)
{
	__u64 cookie = target_cookie;

	return cookie && sk->__sk_common.skc_cookie.counter == cookie;
}

/* Whether one of the storage's elements holds the test's value. */
static bool storage_has_value(struct bpf_local_storage *storage, __u64 cookie)
{
	struct bpf_local_storage_elem *selem;
	struct hlist_node *node;
	struct sk_value value;
	int i;

	node = BPF_CORE_READ(storage, list.first);
	for (i = 0; i < MAX_ELEMS && node; i++) {
		selem = (void *)node -
			bpf_core_field_offset(struct bpf_local_storage_elem,
					      snode);
		if (!bpf_core_read(&value, sizeof(value), &selem->sdata.data) &&
		    value.magic == SK_VALUE_MAGIC && value.cookie == cookie)
			return true;
		node = BPF_CORE_READ(node, next);
	}
	return false;
}

SEC("fentry/bpf_sk_storage_free")
int BPF_PROG(storage_free_entry, struct sock *sk)
{
	struct bpf_local_storage *storage;

	if (!is_target(sk))
		return 0;

	entry_calls++;
	storage = sk->sk_bpf_storage;
	seen_storage = storage != NULL;
	omem_at_entry = sk->sk_omem_alloc.counter;
	if (storage && storage_has_value(storage, target_cookie))
		seen_value = 1;
	return 0;
}

SEC("fexit/bpf_sk_storage_free")
int BPF_PROG(storage_free_exit, struct sock *sk)
{
	if (!is_target(sk))
		return 0;

	exit_calls++;
	omem_at_exit = sk->sk_omem_alloc.counter;
	done = 1;
	return 0;
}

char _license[] SEC("license") = "GPL";
