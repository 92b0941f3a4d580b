/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * SLHTTPD userspace frontend: the protocol core (core/slhttpd.h) driven by an
 * AF_PACKET socket on one network interface. See host/README.md.
 */
#ifndef SLHTTPD_HOST_FRONTEND_H
#define SLHTTPD_HOST_FRONTEND_H

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "slhttpd.h"

/* Frames handed to the kernel in one sendmmsg() call. */
#define FE_TX_BATCH	128

/* Frontend counters, next to the core's. */
enum fe_counter {
	FE_RX_FRAMES,		/* frames read from the ring */
	FE_RX_OVERSIZE,		/* frames larger than a ring slot (skipped) */
	FE_RX_RING_DROPS,	/* frames the kernel dropped: ring full */
	FE_TX_FRAMES,		/* frames written to the interface */
	FE_TX_ERRORS,		/* frames the kernel refused (ENOBUFS...) */
	FE_TX_CALLS,		/* sendmmsg() calls */
	FE_POLLS,		/* poll() wake-ups */
	FE_MAX
};

/* --mode xdp: AF_XDP sockets, one per RX queue (sl_xsks_map has 64 entries) */
#define FE_XSK_QUEUES_MAX	64u

/* Per-queue counters (--mode xdp), "qN_..." in the output. */
enum fe_q_counter {
	FE_Q_RX_FRAMES,		/* frames the XDP program handed on from queue N */
	FE_Q_TX_FRAMES,		/* frames sent through queue N's socket */
	FE_Q_RING_DROPS,	/* frames of queue N the socket dropped: ring full */
	FE_Q_MAX
};

struct fe_stats {
	uint64_t c[FE_MAX];
	int xdp_requests;	/* the XDP program's SL_XDP_REQ_* now; -1: none */
	unsigned int nq;	/* queues with counters in q (0: AF_PACKET) */
	uint64_t q[FE_XSK_QUEUES_MAX][FE_Q_MAX];
};

struct fe_xsk;

/*
 * An AF_PACKET socket with a TPACKET_V2 receive ring and a TX batch; or
 * (xsk set, --mode xdp) an AF_XDP socket behind the XDP program (xsk.c).
 */
struct fe_port {
	struct fe_xsk *xsk;
	int fd;
	int ifindex;
	uint8_t mac[6];
	unsigned int mtu;
	/* receive ring */
	uint8_t *ring;
	size_t ring_len;
	unsigned int frame_size;
	unsigned int frame_nr;
	unsigned int rx_next;
	/* transmit batch */
	unsigned int tx_count;
	uint8_t (*tx_buf)[SL_FRAME_MAX];
	uint32_t tx_len[FE_TX_BATCH];
	struct mmsghdr tx_msg[FE_TX_BATCH];
	struct iovec tx_iov[FE_TX_BATCH];
};

/* afpacket.c */
int fe_port_open(struct fe_port *p, const char *ifname, char *err, size_t errlen);
void fe_port_close(struct fe_port *p);
/* Next received frame or NULL; fe_rx_release() after use. */
const uint8_t *fe_rx_next(struct fe_port *p, uint32_t *len, uint32_t *flags,
			  struct fe_stats *fs);
void fe_rx_release(struct fe_port *p);
/* A free TX slot (flushing the batch first when full). */
uint8_t *fe_tx_slot(struct fe_port *p, struct fe_stats *fs);
void fe_tx_commit(struct fe_port *p, uint32_t len, struct fe_stats *fs);
void fe_tx_flush(struct fe_port *p, struct fe_stats *fs);
uint64_t fe_ring_drops(struct fe_port *p);
/* The descriptors to poll for frames (--mode xdp: one per queue): how many. */
unsigned int fe_poll_fds(struct fe_port *p, struct pollfd *pfd, unsigned int max);

/* xsk.c: --mode xdp (afpacket.c's functions call these when p->xsk is set) */
#define FE_XDP_GENERIC	1	/* --xdp-generic: attach in skb mode */
#define FE_XDP_REQUESTS	2	/* --xdp-requests=on: requests parsed in the XDP program */
#define FE_XDP_NO_REQUESTS 4	/* --xdp-requests=off (neither: auto, xdp/README.md) */
/* nq: sockets on queues 0..nq-1; 0: one on every RX queue of the interface */
int fe_port_open_xdp(struct fe_port *p, const char *ifname, const char *obj_path,
		     int flags, unsigned int nq, char *err, size_t errlen);
int fe_xsk_open(struct fe_port *p, const char *ifname, const char *obj_path, int flags,
		unsigned int nq, char *err, size_t errlen);
/* The answered-request filter shared with the XDP program. */
struct sl_answered *fe_xsk_answered(struct fe_port *p);
/* Configure the XDP program with cfg and attach it. */
int fe_xsk_start(struct fe_port *p, const struct sl_config *cfg, char *err, size_t errlen);
const uint8_t *fe_xsk_rx_next(struct fe_port *p, uint32_t *len, uint32_t *flags,
			      struct fe_stats *fs);
void fe_xsk_rx_release(struct fe_port *p);
uint8_t *fe_xsk_tx_slot(struct fe_port *p, struct fe_stats *fs);
void fe_xsk_tx_commit(struct fe_port *p, uint32_t len, struct fe_stats *fs);
void fe_xsk_tx_flush(struct fe_port *p, struct fe_stats *fs);
uint64_t fe_xsk_ring_drops(struct fe_port *p);
/* Fill in fs's per-queue counters and xdp_requests. */
void fe_xsk_queue_stats(struct fe_port *p, struct fe_stats *fs);
unsigned int fe_xsk_poll_fds(struct fe_port *p, struct pollfd *pfd, unsigned int max);
/* Add the XDP program's counters (frames it answered itself) to sum. */
void fe_xsk_bpf_stats(struct fe_port *p, struct sl_stats *sum);
void fe_xsk_close(struct fe_port *p);

/* stats.c */
const char *fe_counter_name(enum fe_counter c);
const char *fe_q_counter_name(enum fe_q_counter c);
void fe_stats_print(FILE *out, const struct sl_stats *st, const struct fe_stats *fs);
int fe_stats_json(const char *path, const struct sl_stats *st, const struct fe_stats *fs);

#endif /* SLHTTPD_HOST_FRONTEND_H */
