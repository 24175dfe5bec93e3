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
 *   watch_free_entry/watch_free_exit (sk_destroy_watch.h) record, for each socket whose SO_COOKIE the
 *   test put in watched, the elements still on it and its option memory
 *   once bpf_sk_storage_free() is done with it (must be zero).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_WATCHED 1024
#include "sk_destroy_watch.h"

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

char _license[] SEC("license") = "GPL";
