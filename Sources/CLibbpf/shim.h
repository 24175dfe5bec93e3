#ifndef SELFTESTS_CLIBBPF_SHIM_H
#define SELFTESTS_CLIBBPF_SHIM_H
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/sock_diag.h>
#endif
