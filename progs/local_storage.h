/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counting the elements linked on one owner's bpf_local_storage, from a
 * tracing program on the *_storage_free() functions (which may not call the
 * storage helpers): a bounded walk of the list with CO-RE reads. Include it
 * after vmlinux.h and the libbpf headers; MAX_ELEMS bounds the walk.
 */
#ifndef LOCAL_STORAGE_H
#define LOCAL_STORAGE_H

#ifndef MAX_ELEMS
#define MAX_ELEMS 16
#endif

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

#endif /* LOCAL_STORAGE_H */
