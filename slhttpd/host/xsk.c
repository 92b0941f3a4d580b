// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * --mode xdp: the XDP program (../xdp, the core built for BPF) answers every
 * frame whose answer is one frame with XDP_TX; the others come here through
 * an AF_XDP socket on the receive queue they arrived on (one socket per
 * queue, sl_xsks_map[queue]) and are answered by the same core in userspace,
 * transmitted through that socket's TX ring (see xdp/README.md).
 *
 * One thread serves every socket (main.c polls them all): the core's state
 * here (counters, the RST rate limit) needs no lock, and any socket may
 * answer any frame (the core is stateless).
 *
 * UMEM, one per socket: 2 KiB frames, 4096 of them (fewer on NICs with many
 * queues); half fill the fill ring (receive), half are a free list for
 * transmission, recycled from the completion ring.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <poll.h>
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

/* UMEM frames per queue: fewer per queue on NICs with many queues (pinned memory) */
#define XSK_FRAMES_MAX	4096u
#define XSK_FRAME_SIZE	2048u
#define XSK_TX_BATCH	64u

/* One AF_XDP socket, bound to one RX queue, with its own UMEM. */
struct fe_xq {
	uint8_t *area;
	size_t area_len;
	unsigned int frames;	/* UMEM frames; the rings hold half */
	unsigned int ring;
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint64_t free_addr[XSK_FRAMES_MAX];
	unsigned int nfree;
	uint64_t cur_addr;	/* frame of the current TX slot */
	int have_cur;		/* cur_addr taken and not committed: reused */
	unsigned int pending;	/* TX descriptors not yet submitted */
	uint64_t rx_frames, tx_frames;
};

struct fe_xsk {
	struct bpf_object *obj;
	int prog_fd, emit_fd, cfg_fd, stats_fd, xsks_fd, progs_fd, answered_fd, opts_fd;
	unsigned int ifindex;
	uint32_t xdp_flags;
	int attached;
	void *answered;		/* mmapped sl_answered_map */
	size_t answered_len;
	unsigned int nq;	/* sockets: queues 0..nq-1 */
	struct fe_xq *q;
	unsigned int rxq;	/* queue of the frame being handled: its TX ring answers */
	unsigned int next_q;	/* round robin over the queues, a frame each */
	uint64_t rx_addr;	/* frame being handled */
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

/*
 * The interface's RX queues (real_num_rx_queues: /sys/class/net/IF/queues/rx-N,
 * what an AF_XDP bind checks the queue index against). want: --queues, 0 = all.
 */
static int fe_xsk_queues(struct fe_xsk *x, const char *ifname, unsigned int want,
			 char *err, size_t errlen)
{
	char path[128], hint[160];
	unsigned int n = 0;

	for (;;) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%u", ifname, n);
		if (access(path, F_OK))
			break;
		n++;
	}
	if (!n)
		n = 1;	/* no sysfs here: at least queue 0 exists */
	if (want > n) {
		snprintf(hint, sizeof(hint), "%s has %u RX queue%s", ifname, n, n > 1 ? "s" : "");
		return xfail(err, errlen, "--queues", EINVAL, hint);
	}
	if (!want && n > FE_XSK_QUEUES_MAX) {
		snprintf(hint, sizeof(hint), "%s has %u RX queues, slhttpd-host serves at most %u "
			 "(ethtool -L %s combined %u, or --queues N with RSS steered to "
			 "queues 0..N-1)", ifname, n, FE_XSK_QUEUES_MAX, ifname, FE_XSK_QUEUES_MAX);
		return xfail(err, errlen, "RX queues", E2BIG, hint);
	}
	x->nq = want ? want : n;
	if (x->nq < n)
		fprintf(stderr, "slhttpd-host: warning: sockets on queues 0..%u of %u only: "
			"frames handed on from queue %u and above are dropped\n", x->nq - 1, n,
			x->nq);
	x->q = calloc(x->nq, sizeof(*x->q));
	if (!x->q)
		return xfail(err, errlen, "calloc", ENOMEM, NULL);
	return 0;
}

/* The AF_XDP socket of queue qi, in sl_xsks_map at qi, with a UMEM of its own. */
static int xq_open(struct fe_xsk *x, unsigned int qi, const char *ifname, char *err,
		   size_t errlen)
{
	struct fe_xq *q = &x->q[qi];
	/* pinned: 8 MiB per queue up to 4 queues, 2 MiB up to 16, then 1 MiB */
	unsigned int frames = x->nq <= 4 ? XSK_FRAMES_MAX : x->nq <= 16 ? 1024 : 512;
	struct xsk_umem_config ucfg = {
		.fill_size = frames / 2, .comp_size = frames / 2, .frame_size = XSK_FRAME_SIZE,
	};
	struct xsk_socket_config scfg = {
		.rx_size = frames / 2, .tx_size = frames / 2,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	char what[64];
	uint32_t idx;
	int fd, r;

	q->frames = frames;
	q->ring = frames / 2;
	q->area_len = (size_t)frames * XSK_FRAME_SIZE;
	q->area = mmap(NULL, q->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return xfail(err, errlen, "mmap(umem)", errno, NULL);
	}
	r = xsk_umem__create(&q->umem, q->area, q->area_len, &q->fill, &q->comp, &ucfg);
	if (r)
		return xfail(err, errlen, "xsk_umem__create", r, "needs Linux >= 4.18");
	r = xsk_socket__create(&q->sock, ifname, qi, q->umem, &q->rx, &q->tx, &scfg);
	if (r) {
		snprintf(what, sizeof(what), "xsk_socket__create (AF_XDP, queue %u)", qi);
		return xfail(err, errlen, what, r, NULL);
	}
	fd = xsk_socket__fd(q->sock);
	if (bpf_map_update_elem(x->xsks_fd, &qi, &fd, 0))
		return xfail(err, errlen, "sl_xsks_map", errno, NULL);
	/* the first half receives, the second transmits */
	if (xsk_ring_prod__reserve(&q->fill, frames / 2, &idx) != frames / 2)
		return xfail(err, errlen, "fill ring", ENOSPC, NULL);
	for (unsigned int i = 0; i < frames / 2; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) = (uint64_t)i * XSK_FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, frames / 2);
	for (unsigned int i = frames / 2; i < frames; i++)
		q->free_addr[q->nfree++] = (uint64_t)i * XSK_FRAME_SIZE;
	return 0;
}

int fe_xsk_open(struct fe_port *p, const char *ifname, const char *obj_path, int flags,
		unsigned int nq, char *err, size_t errlen)
{
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
	 * requests in the XDP program: auto unless --xdp-requests says (xdp/README.md);
	 * the object built without the parser (slhttpd_xdp_noparse.o) has no sl_opts_map:
	 * requests go to the socket there, and --xdp-requests=on is refused
	 */
	fd = map_fd(x->obj, "sl_opts_map");
	x->opts_fd = fd;
	idx = flags & FE_XDP_REQUESTS ? SL_XDP_REQ_ON :
	      flags & FE_XDP_NO_REQUESTS ? SL_XDP_REQ_OFF : SL_XDP_REQ_AUTO;
	if (fd < 0 && idx == SL_XDP_REQ_ON)
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

	if (fe_xsk_queues(x, ifname, nq, err, errlen) < 0)
		return -1;
	for (unsigned int q = 0; q < x->nq; q++)
		if (xq_open(x, q, ifname, err, errlen) < 0)
			return -1;
	p->fd = xsk_socket__fd(x->q[0].sock);
	printf("slhttpd-host: %s: AF_XDP socket%s on RX queue%s 0..%u\n", ifname,
	       x->nq > 1 ? "s" : "", x->nq > 1 ? "s" : "", x->nq - 1);
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

static void reap(struct fe_xq *q)
{
	uint32_t idx;
	unsigned int n = xsk_ring_cons__peek(&q->comp, q->ring, &idx);

	for (unsigned int i = 0; i < n && q->nfree < q->frames; i++)
		q->free_addr[q->nfree++] = *xsk_ring_cons__comp_addr(&q->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&q->comp, n);
}

/* The next frame of any queue, a frame per queue in turn. */
const uint8_t *fe_xsk_rx_next(struct fe_port *p, uint32_t *len, uint32_t *flags,
			      struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;
	const struct xdp_desc *d;
	uint32_t idx;

	for (unsigned int i = 0; i < x->nq; i++) {
		unsigned int qi = (x->next_q + i) % x->nq;
		struct fe_xq *q = &x->q[qi];

		if (xsk_ring_cons__peek(&q->rx, 1, &idx) != 1)
			continue;
		d = xsk_ring_cons__rx_desc(&q->rx, idx);
		fs->c[FE_RX_FRAMES]++;
		q->rx_frames++;
		x->rxq = qi;
		x->next_q = (qi + 1) % x->nq;
		x->rx_addr = d->addr;
		*len = d->len;
		*flags = 0;
		return xsk_umem__get_data(q->area, d->addr);
	}
	return NULL;
}

void fe_xsk_rx_release(struct fe_port *p)
{
	struct fe_xsk *x = p->xsk;
	struct fe_xq *q = &x->q[x->rxq];
	uint32_t idx;

	xsk_ring_cons__release(&q->rx, 1);
	/* the fill ring holds every receive frame: there is room */
	if (xsk_ring_prod__reserve(&q->fill, 1, &idx) == 1) {
		*xsk_ring_prod__fill_addr(&q->fill, idx) = xsk_umem__extract_addr(x->rx_addr);
		xsk_ring_prod__submit(&q->fill, 1);
	}
}

static void xq_flush(struct fe_xq *q, struct fe_stats *fs)
{
	if (q->pending) {
		xsk_ring_prod__submit(&q->tx, q->pending);
		q->pending = 0;
	}
	/* copy mode sends at most 32 frames per call: bounded rounds until the ring is empty */
	for (unsigned int i = 0; i < 4 * q->ring / 32; i++) {
		if (xsk_prod_nb_free(&q->tx, q->ring) >= q->ring)
			break;
		fs->c[FE_TX_CALLS]++;
		if (sendto(xsk_socket__fd(q->sock), NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR) {
			fs->c[FE_TX_ERRORS]++;
			break;
		}
		reap(q);
	}
	reap(q);
}

void fe_xsk_tx_flush(struct fe_port *p, struct fe_stats *fs)
{
	for (unsigned int qi = 0; qi < p->xsk->nq; qi++)
		xq_flush(&p->xsk->q[qi], fs);
}

/* A TX slot on the socket of the queue the frame being handled came from. */
uint8_t *fe_xsk_tx_slot(struct fe_port *p, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;
	struct fe_xq *q = &x->q[x->rxq];

	if (q->pending >= XSK_TX_BATCH)
		xq_flush(q, fs);
	/* the caller may not use a slot (sl_emit() returned 0): it stays ours */
	if (q->have_cur)
		return xsk_umem__get_data(q->area, q->cur_addr);
	if (!q->nfree)
		reap(q);
	if (!q->nfree)
		xq_flush(q, fs);
	if (!q->nfree) {
		x->spare_used = 1;	/* no frame free: this one is lost */
		return x->spare;
	}
	x->spare_used = 0;
	q->have_cur = 1;
	q->cur_addr = q->free_addr[--q->nfree];
	return xsk_umem__get_data(q->area, q->cur_addr);
}

void fe_xsk_tx_commit(struct fe_port *p, uint32_t len, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;
	struct fe_xq *q = &x->q[x->rxq];
	struct xdp_desc *d;
	uint32_t idx;

	if (x->spare_used) {
		fs->c[FE_TX_ERRORS]++;
		return;
	}
	q->have_cur = 0;
	if (xsk_ring_prod__reserve(&q->tx, 1, &idx) != 1) {
		q->free_addr[q->nfree++] = q->cur_addr;
		fs->c[FE_TX_ERRORS]++;
		return;
	}
	d = xsk_ring_prod__tx_desc(&q->tx, idx);
	d->addr = q->cur_addr;
	d->len = len;
	q->pending++;
	q->tx_frames++;
	fs->c[FE_TX_FRAMES]++;
}

static uint64_t xq_ring_drops(struct fe_xq *q)
{
	struct xdp_statistics st;
	socklen_t l = sizeof(st);

	if (getsockopt(xsk_socket__fd(q->sock), SOL_XDP, XDP_STATISTICS, &st, &l) < 0)
		return 0;
	return st.rx_dropped + st.rx_ring_full;
}

uint64_t fe_xsk_ring_drops(struct fe_port *p)
{
	uint64_t n = 0;

	for (unsigned int qi = 0; qi < p->xsk->nq; qi++)
		n += xq_ring_drops(&p->xsk->q[qi]);
	return n;
}

void fe_xsk_queue_stats(struct fe_port *p, struct fe_stats *fs)
{
	struct fe_xsk *x = p->xsk;

	uint32_t key = 0, v;

	fs->xdp_requests = -1;
	if (x->opts_fd >= 0 && bpf_map_lookup_elem(x->opts_fd, &key, &v) == 0)
		fs->xdp_requests = (int)v;
	fs->nq = x->nq;
	for (unsigned int qi = 0; qi < x->nq; qi++) {
		fs->q[qi][FE_Q_RX_FRAMES] = x->q[qi].rx_frames;
		fs->q[qi][FE_Q_TX_FRAMES] = x->q[qi].tx_frames;
		fs->q[qi][FE_Q_RING_DROPS] = xq_ring_drops(&x->q[qi]);
	}
}

unsigned int fe_xsk_poll_fds(struct fe_port *p, struct pollfd *pfd, unsigned int max)
{
	unsigned int n = 0;

	for (unsigned int qi = 0; qi < p->xsk->nq && n < max; qi++, n++)
		pfd[n] = (struct pollfd){ .fd = xsk_socket__fd(p->xsk->q[qi].sock),
					  .events = POLLIN };
	return n;
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
	for (unsigned int qi = 0; x->q && qi < x->nq; qi++) {
		struct fe_xq *q = &x->q[qi];

		if (q->sock)
			xsk_socket__delete(q->sock);
		if (q->umem)
			xsk_umem__delete(q->umem);
		if (q->area)
			munmap(q->area, q->area_len);
	}
	free(x->q);
	if (x->answered)
		munmap(x->answered, x->answered_len);
	if (x->obj)
		bpf_object__close(x->obj);
	free(x);
	p->xsk = NULL;
	p->fd = -1;	/* the socket's, closed above */
}
