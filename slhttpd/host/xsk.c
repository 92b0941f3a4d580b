// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * --mode xdp: the XDP program (../xdp, the core built for BPF) answers every
 * frame whose answer is one frame with XDP_TX; the others come here through
 * an AF_XDP socket on receive queue 0 and are answered by the same core in
 * userspace, transmitted through the socket's TX ring (see xdp/README.md).
 *
 * UMEM: XSK_FRAMES frames of 2 KiB; half fill the fill ring (receive), half
 * are a free list for transmission, recycled from the completion ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include "frontend.h"

#define XSK_FRAMES	4096u
#define XSK_FRAME_SIZE	2048u
#define XSK_RING	2048u
#define XSK_TX_BATCH	64u

struct fe_xsk {
	struct bpf_object *obj;
	int prog_fd, emit_fd, cfg_fd, stats_fd, xsks_fd, progs_fd, answered_fd;
	unsigned int ifindex;
	uint32_t xdp_flags;
	int attached;
	void *answered;		/* mmapped sl_answered_map */
	size_t answered_len;
	uint8_t *area;
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint64_t free_addr[XSK_FRAMES];
	unsigned int nfree;
	uint64_t rx_addr;	/* frame being handled */
	uint64_t cur_addr;	/* frame of the current TX slot */
	int have_cur;		/* cur_addr taken and not committed: reused */
	unsigned int pending;	/* TX descriptors not yet submitted */
	uint8_t spare[XSK_FRAME_SIZE];	/* TX slot when the UMEM is exhausted */
	int spare_used;
};

static int xfail(char *err, size_t errlen, const char *what, int e, const char *hint)
{
	snprintf(err, errlen, "%s: %s%s%s", what, strerror(e < 0 ? -e : e),
		 hint ? ": " : "", hint ? hint : "");
	return -1;
}

/*
 * libbpf's messages are not printed; the last line of a verifier log is kept:
 * the kernel's reason when it refuses the program (e.g. on 32-bit ARM, the
 * full object: "tail_calls are not allowed in non-JITed programs with
 * bpf-to-bpf calls"; xdp/README.md).
 */
static char verifier_reason[160];

static int keep_verifier_reason(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *text, *end, *last;
	va_list aq;
	int n;

	if (level != LIBBPF_WARN)
		return 0;
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	text = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!text)
		return 0;
	vsnprintf(text, (size_t)n + 1, fmt, ap);
	/* the log comes as one message: its last non-empty line before the END marker */
	end = strstr(text, "-- END PROG LOAD LOG --");
	if (end && strstr(text, "-- BEGIN PROG LOAD LOG --")) {
		*end = 0;
		for (;;) {	/* the statistics lines ("processed N insns", ...) come last */
			while (end > text && (end[-1] == '\n' || end[-1] == ' '))
				*--end = 0;
			last = strrchr(text, '\n');
			last = last ? last + 1 : text;
			if (last == text || (strncmp(last, "processed ", 10) &&
					     strncmp(last, "verification time", 17) &&
					     strncmp(last, "stack depth", 11)))
				break;
			end = last;
		}
		snprintf(verifier_reason, sizeof(verifier_reason), "%.159s", last);
	}
	free(text);
	return 0;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__fd(m) : -1;
}

int fe_xsk_open(struct fe_port *p, const char *ifname, const char *obj_path, int flags,
		char *err, size_t errlen)
{
	struct xsk_umem_config ucfg = {
		.fill_size = XSK_RING, .comp_size = XSK_RING, .frame_size = XSK_FRAME_SIZE,
	};
	struct xsk_socket_config scfg = {
		.rx_size = XSK_RING, .tx_size = XSK_RING,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	struct fe_xsk *x;
	struct bpf_program *prog;
	uint32_t idx, key = 0;
	int fd, r;
	char log[256];

	x = calloc(1, sizeof(*x));
	if (!x)
		return xfail(err, errlen, "calloc", ENOMEM, NULL);
	p->xsk = x;
	x->ifindex = p->ifindex;
	x->xdp_flags = flags & FE_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	libbpf_set_print(keep_verifier_reason);
	x->obj = bpf_object__open_file(obj_path, NULL);
	if (!x->obj) {
		snprintf(log, sizeof(log), "build it: make -C slhttpd out/slhttpd_xdp.o");
		return xfail(err, errlen, obj_path, errno, log);
	}
	r = bpf_object__load(x->obj);
	if (r && verifier_reason[0]) {
		snprintf(log, sizeof(log), "the kernel says: %s", verifier_reason);
		return xfail(err, errlen, "loading the XDP program (verifier)", r, log);
	}
	if (r)
		return xfail(err, errlen, "loading the XDP program (verifier)", r,
			     "the core no longer verifies for BPF? bpftool -d prog loadall "
			     "out/slhttpd_xdp.o /sys/fs/bpf/x type xdp shows the log");
	prog = bpf_object__find_program_by_name(x->obj, "slhttpd_xdp");
	x->prog_fd = prog ? bpf_program__fd(prog) : -1;
	prog = bpf_object__find_program_by_name(x->obj, "slhttpd_xdp_emit");
	x->emit_fd = prog ? bpf_program__fd(prog) : -1;
	x->cfg_fd = map_fd(x->obj, "sl_cfg_map");
	x->stats_fd = map_fd(x->obj, "sl_stats_map");
	x->xsks_fd = map_fd(x->obj, "sl_xsks_map");
	x->progs_fd = map_fd(x->obj, "sl_progs_map");
	x->answered_fd = map_fd(x->obj, "sl_answered_map");
	if (x->prog_fd < 0 || x->emit_fd < 0 || x->cfg_fd < 0 || x->stats_fd < 0 ||
	    x->xsks_fd < 0 || x->progs_fd < 0 || x->answered_fd < 0)
		return xfail(err, errlen, obj_path, ENOENT, "not the slhttpd XDP program");
	if (bpf_map_update_elem(x->progs_fd, &key, &x->emit_fd, 0))
		return xfail(err, errlen, "sl_progs_map", errno, NULL);
	/*
	 * requests in the XDP program: opt-in (xdp/README.md); the object built
	 * without the parser (slhttpd_xdp_noparse.o) has no sl_opts_map
	 */
	fd = map_fd(x->obj, "sl_opts_map");
	idx = flags & FE_XDP_REQUESTS ? 1 : 0;
	if (fd < 0 && idx)
		return xfail(err, errlen, "--xdp-requests", ENOTSUP,
			     "this XDP object has no request parser (slhttpd_xdp_noparse.o)");
	if (fd >= 0 && bpf_map_update_elem(fd, &key, &idx, 0))
		return xfail(err, errlen, "sl_opts_map", errno, NULL);
	x->answered_len = (size_t)(1u << 16) * sizeof(struct sl_answered);
	x->answered = mmap(NULL, x->answered_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			   x->answered_fd, 0);
	if (x->answered == MAP_FAILED) {
		x->answered = NULL;
		return xfail(err, errlen, "mmap(sl_answered_map)", errno, NULL);
	}

	x->area = mmap(NULL, (size_t)XSK_FRAMES * XSK_FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return xfail(err, errlen, "mmap(umem)", errno, NULL);
	}
	r = xsk_umem__create(&x->umem, x->area, (uint64_t)XSK_FRAMES * XSK_FRAME_SIZE,
			     &x->fill, &x->comp, &ucfg);
	if (r)
		return xfail(err, errlen, "xsk_umem__create", r, "needs Linux >= 4.18");
	r = xsk_socket__create(&x->sock, ifname, 0, x->umem, &x->rx, &x->tx, &scfg);
	if (r)
		return xfail(err, errlen, "xsk_socket__create (AF_XDP)", r, NULL);
	fd = xsk_socket__fd(x->sock);
	if (bpf_map_update_elem(x->xsks_fd, &key, &fd, 0))
		return xfail(err, errlen, "sl_xsks_map", errno, NULL);
	/* the first half receives, the second transmits */
	if (xsk_ring_prod__reserve(&x->fill, XSK_FRAMES / 2, &idx) != XSK_FRAMES / 2)
		return xfail(err, errlen, "fill ring", ENOSPC, NULL);
	for (unsigned int i = 0; i < XSK_FRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = (uint64_t)i * XSK_FRAME_SIZE;
	xsk_ring_prod__submit(&x->fill, XSK_FRAMES / 2);
	for (unsigned int i = XSK_FRAMES / 2; i < XSK_FRAMES; i++)
		x->free_addr[x->nfree++] = (uint64_t)i * XSK_FRAME_SIZE;
	p->fd = fd;
	return 0;
}

struct sl_answered *fe_xsk_answered(struct fe_port *p)
{
	return p->xsk->answered;
}

/*
 * Whether the kernel JIT-compiled a program or its interpreter runs it (a JIT may
 * refuse a program, or be off: net.core.bpf_jit_enable; xdp/README.md).
 */
static void print_runtime(const char *name, int fd)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	if (info.jited_prog_len)
		printf("slhttpd-host: %s: %u BPF instructions, JIT-compiled (%u bytes)\n", name,
		       info.xlated_prog_len / 8, info.jited_prog_len);
	else
		printf("slhttpd-host: %s: %u BPF instructions, interpreted (not JIT-compiled)\n",
		       name, info.xlated_prog_len / 8);
}

int fe_xsk_start(struct fe_port *p, const struct sl_config *cfg, char *err, size_t errlen)
{
	struct fe_xsk *x = p->xsk;
	uint32_t key = 0;
	int r;

	if (bpf_map_update_elem(x->cfg_fd, &key, cfg, 0))
		return xfail(err, errlen, "sl_cfg_map", errno, NULL);
	r = bpf_xdp_attach((int)x->ifindex, x->prog_fd,
			   x->xdp_flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (r)
		return xfail(err, errlen, "attaching the XDP program", r,
			     r == -EBUSY || r == -EEXIST ?
			     "another XDP program is attached (ip link set dev IFACE xdp off)" :
			     "no native XDP in this driver? try --xdp-generic");
	x->attached = 1;
	print_runtime("slhttpd_xdp", x->prog_fd);
	print_runtime("slhttpd_xdp_emit", x->emit_fd);
	return 0;
}

static void reap(struct fe_xsk *x)
{
	uint32_t idx;
	unsigned int n = xsk_ring_cons__peek(&x->comp, XSK_RING, &idx);

	for (unsigned int i = 0; i < n && x->nfree < XSK_FRAMES; i++)
		x->free_addr[x->nfree++] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&x->comp, n);
}

const uint8_t *fe_xsk_rx_next(struct fe_port *p, uint32_t *len, uint32_t *flags,
			      struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;
	const struct xdp_desc *d;
	uint32_t idx;

	if (xsk_ring_cons__peek(&x->rx, 1, &idx) != 1)
		return NULL;
	d = xsk_ring_cons__rx_desc(&x->rx, idx);
	fs->c[FE_RX_FRAMES]++;
	x->rx_addr = d->addr;
	*len = d->len;
	*flags = 0;
	return xsk_umem__get_data(x->area, d->addr);
}

void fe_xsk_rx_release(struct fe_port *p)
{
	struct fe_xsk *x = p->xsk;
	uint32_t idx;

	xsk_ring_cons__release(&x->rx, 1);
	/* the fill ring holds every receive frame: there is room */
	if (xsk_ring_prod__reserve(&x->fill, 1, &idx) == 1) {
		*xsk_ring_prod__fill_addr(&x->fill, idx) = xsk_umem__extract_addr(x->rx_addr);
		xsk_ring_prod__submit(&x->fill, 1);
	}
}

void fe_xsk_tx_flush(struct fe_port *p, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;

	if (x->pending) {
		xsk_ring_prod__submit(&x->tx, x->pending);
		x->pending = 0;
	}
	/* copy mode sends at most 32 frames per call: bounded rounds until the ring is empty */
	for (unsigned int i = 0; i < 4 * XSK_RING / 32; i++) {
		if (xsk_prod_nb_free(&x->tx, XSK_RING) >= XSK_RING)
			break;
		fs->c[FE_TX_CALLS]++;
		if (sendto(xsk_socket__fd(x->sock), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			fs->c[FE_TX_ERRORS]++;
			break;
		}
		reap(x);
	}
	reap(x);
}

uint8_t *fe_xsk_tx_slot(struct fe_port *p, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;

	if (x->pending >= XSK_TX_BATCH)
		fe_xsk_tx_flush(p, fs);
	/* the caller may not use a slot (sl_emit() returned 0): it stays ours */
	if (x->have_cur)
		return xsk_umem__get_data(x->area, x->cur_addr);
	if (!x->nfree)
		reap(x);
	if (!x->nfree)
		fe_xsk_tx_flush(p, fs);
	if (!x->nfree) {
		x->spare_used = 1;	/* no frame free: this one is lost */
		return x->spare;
	}
	x->spare_used = 0;
	x->have_cur = 1;
	x->cur_addr = x->free_addr[--x->nfree];
	return xsk_umem__get_data(x->area, x->cur_addr);
}

void fe_xsk_tx_commit(struct fe_port *p, uint32_t len, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;
	struct xdp_desc *d;
	uint32_t idx;

	if (x->spare_used) {
		fs->c[FE_TX_ERRORS]++;
		return;
	}
	x->have_cur = 0;
	if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		x->free_addr[x->nfree++] = x->cur_addr;
		fs->c[FE_TX_ERRORS]++;
		return;
	}
	d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = x->cur_addr;
	d->len = len;
	x->pending++;
	fs->c[FE_TX_FRAMES]++;
}

uint64_t fe_xsk_ring_drops(struct fe_port *p)
{
	struct xdp_statistics st;
	socklen_t l = sizeof(st);

	if (getsockopt(xsk_socket__fd(p->xsk->sock), SOL_XDP, XDP_STATISTICS, &st, &l) < 0)
		return 0;
	return st.rx_dropped + st.rx_ring_full;
}

void fe_xsk_bpf_stats(struct fe_port *p, struct sl_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sl_stats *per;
	uint32_t key = 0;

	if (ncpu <= 0)
		return;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return;
	if (bpf_map_lookup_elem(p->xsk->stats_fd, &key, per) == 0)
		for (int c = 0; c < ncpu; c++)
			for (int i = 0; i < SL_C_MAX; i++)
				sum->c[i] += per[c].c[i];
	free(per);
}

void fe_xsk_close(struct fe_port *p)
{
	struct fe_xsk *x = p->xsk;

	if (!x)
		return;
	if (x->attached)
		bpf_xdp_detach((int)x->ifindex, x->xdp_flags, NULL);
	if (x->sock)
		xsk_socket__delete(x->sock);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)XSK_FRAMES * XSK_FRAME_SIZE);
	if (x->answered)
		munmap(x->answered, x->answered_len);
	if (x->obj)
		bpf_object__close(x->obj);
	free(x);
	p->xsk = NULL;
	p->fd = -1;	/* the socket's, closed above */
}
