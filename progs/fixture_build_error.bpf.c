// SPDX-License-Identifier: GPL-2.0
/*
 * This program does NOT compile, on purpose.
 *
 * It exists to prove that a compile error in progs/ becomes a `build-error`
 * verdict for the test that needs the object (fixture/build_error), instead
 * of stopping the whole run. Do not fix it: the call below is to a function
 * that no header declares, which clang rejects in C99 and later.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tp/syscalls/sys_enter_getpid")
int fixture_build_error(void *ctx)
{
	return this_function_is_not_declared_anywhere(ctx);
}

char _license[] SEC("license") = "GPL";
