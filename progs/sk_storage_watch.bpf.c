// SPDX-License-Identifier: GPL-2.0
/*
 * What bpf_sk_storage_free() finds on many sockets at once.
 *
 * The test puts the SO_COOKIE of every socket it wants watched into the
 * watched hash map. When one of them is destroyed, the entry program counts
 * the elements still linked to its storage (an element of a map that was
 * already freed must be gone by then: a lingering one is what keeps memory
 * charged after the map is gone), and the exit program records the socket's
 * option memory once its storage is released, which must be zero.
 *
 * The programs are in sk_destroy_watch.h, shared with storage_race.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sk_destroy_watch.h"

char _license[] SEC("license") = "GPL";
