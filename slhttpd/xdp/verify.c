// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * bpf-verify: load every program of a BPF object (not attached anywhere) and
 * print the verifier's statistics of each (BPF_LOG_STATS: processed
 * instructions, states, stack depth, time), or its log when one fails.
 * bpftool -d prints the same numbers, but with the whole instruction-level
 * log, which takes minutes for slhttpd_xdp. Exit status 0 iff all loaded.
 *
 *   out/bpf-verify out/slhttpd_xdp.o [LOG_LEVEL]
 *
 * LOG_LEVEL 1 (or 2) instead of 4 prints the instruction-level log.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SIZE (1u << 29)
#define MAX_PROGS 8

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char *logs[MAX_PROGS];
	int err, n = 0;

	int level = argc == 3 ? atoi(argv[2]) : 4;	/* 4: BPF_LOG_STATS */

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: %s OBJECT [LOG_LEVEL]\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		return 2;
	}
	bpf_object__for_each_program(prog, obj) {
		if (n == MAX_PROGS)
			break;
		logs[n] = calloc(1, level == 4 ? 1 << 20 : LOG_SIZE);
		if (!logs[n])
			return 2;
		bpf_program__set_type(prog, BPF_PROG_TYPE_XDP);
		bpf_program__set_log_level(prog, level | 4);
		bpf_program__set_log_buf(prog, logs[n++], level == 4 ? 1 << 20 : LOG_SIZE);
	}
	err = bpf_object__load(obj);
	bpf_object__for_each_program(prog, obj) {
		size_t size;

		printf("%s%s:\n%s", bpf_program__name(prog),
		       bpf_program__fd(prog) < 0 ? " (not loaded)" : "",
		       bpf_program__log_buf(prog, &size));
	}
	bpf_object__close(obj);
	while (n)
		free(logs[--n]);
	return err ? 1 : 0;
}
