// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Cost of the SLHTTPD core per frame, per path: prebuilt frames fed to
 * sl_input() + every sl_emit() of the reply, in a timed loop.
 *
 *   core_bench [--iters N] [--path NAME] [--csum-ok] [--tx-offload] [--ts] [--no-time]
 *
 * Paths: syn (SYN -> SYN-ACK), req64 / req1k / req8k (GET -> response, a
 * whole window), ack_cont (ACK mid-response -> next segments, the stateless
 * rules), ack_cache (the same ACK with the response's sender cache entry, as
 * the frontends and the kernel module run it: PROTOCOL.md), ack_end (final
 * ACK -> ACK), fin (FIN -> FIN-ACK), rst (RST -> nothing), pass (another
 * address). The answered table is configured for every path (as deployed);
 * before each call of ack_cont its entry is cleared (one store), of
 * ack_cache restored as the request left it (a 32-byte copy): both counted. Prints "path frames-out ns/frame-in" lines. Under valgrind
 * (callgrind with --instr-atstart=no) only the measured loop is instrumented,
 * so Ir / iterations is the instruction count of one call.
 *
 * --csum-ok: the NIC validated the RX checksums; --tx-offload: the NIC fills
 * in the TCP checksum (as mvneta does); --ts: the client negotiated
 * timestamps and every frame echoes our last TSval (the MAC check is part
 * of the cost). Under qemu-arm (bench/run_bench.py) the difference of two
 * --iters counts gives exact ARMv7 instructions per call; --no-time makes
 * that exact (formatting measured times costs a time-dependent number of
 * instructions: they are printed as 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else	/* a cross build (ARMv7 under qemu-arm): no callgrind */
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_DUMP_STATS_AT(x)	((void)(x))
#endif

#include "slhttpd.h"

#define CLIENT_IP	0x0a4d0002u
#define SERVER_IP	0x0a4d0001u
#define CPORT		40000
#define SPORT		80

struct frame {
	uint8_t d[SL_FRAME_MAX];
	uint32_t len;
};

static const uint8_t cmac[6] = { 2, 0x4c, 0x52, 0, 0, 2 };
static const uint8_t smac[6] = { 2, 0x4c, 0x52, 0, 0, 1 };

static uint32_t sum16(const uint8_t *p, uint32_t n, uint32_t s)
{
	for (uint32_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static int use_ts;		/* --ts */
static int no_time;		/* --no-time */
static uint32_t echo;		/* the TSval frames echo (the last one we saw) */

/* An Ethernet + IPv4 + TCP frame from the client, checksums filled in. */
static void build(struct frame *f, uint32_t dst, uint8_t flags, uint32_t seq, uint32_t ack,
		  uint16_t win, const char *payload, int mss_opt)
{
	uint8_t *e = f->d, *ip = e + 14, *th = ip + 20;
	uint32_t olen = (mss_opt ? 4 : 0) + (use_ts ? 12 : 0);
	uint32_t plen = payload ? (uint32_t)strlen(payload) : 0;
	uint32_t tlen = 20 + olen + plen, s;
	uint8_t ph[12];

	memset(f, 0, sizeof(*f));
	memcpy(e, smac, 6);
	memcpy(e + 6, cmac, 6);
	put16(e + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tlen));
	put16(ip + 4, 1);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, CLIENT_IP);
	put32(ip + 16, dst);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	put16(th, CPORT);
	put16(th + 2, SPORT);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = (uint8_t)((20 + olen) / 4) << 4;
	th[13] = flags;
	put16(th + 14, win);
	if (mss_opt) {
		th[20] = 2;
		th[21] = 4;
		put16(th + 22, 1460);
	}
	if (use_ts) {
		uint8_t *o = th + 20 + (mss_opt ? 4 : 0);

		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		put32(o + 4, 1000);
		put32(o + 8, flags & 0x02 ? 0 : echo);
	}
	memcpy(th + 20 + olen, payload ? payload : "", plen);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put16(ph + 10, (uint16_t)tlen);
	s = sum16(ph, 12, 0);
	put16(th + 16, fold(sum16(th, tlen, s)));
	f->len = 14 + 20 + tlen;
}

static struct sl_config cfg;
static struct sl_answered table[1024];
static struct sl_stats st;
static uint8_t out[SL_FRAME_MAX];
static uint32_t txflags;	/* --tx-offload */

/* The TSval of a frame we sent, or 0. */
static uint32_t tsval_of(const uint8_t *fr, uint32_t len)
{
	uint32_t ihl = (fr[14] & 15) * 4u, doff;
	const uint8_t *th = fr + 14 + ihl, *o;

	if (len < 14 + ihl + 20)
		return 0;
	doff = (th[12] >> 4) * 4u;
	for (o = th + 20; o + 10 <= th + doff; o += o[0] == 1 ? 1 : o[1]) {
		if (o[0] == 8 && o[1] == 10)
			return get32(o + 2);
		if (o[0] == 0 || (o[0] != 1 && o[1] < 2))
			break;
	}
	return 0;
}

/* One frame in, every reply frame out; returns the number of frames out. */
static unsigned int run_once(const struct frame *f, uint32_t rxflags, uint32_t *last_seq,
			     uint32_t *bytes)
{
	struct sl_rx rx = { .data = f->d, .len = f->len, .flags = rxflags };
	struct sl_reply rp;
	struct sl_txinfo ti;
	unsigned int n = 0;
	uint32_t len;

	if (sl_input(&cfg, &st, &rx, &rp) != SL_REPLY)
		return 0;
	while ((len = sl_emit(&cfg, &st, &rp, out, sizeof(out), txflags, &ti)) > 0 && n < 4096) {
		n++;
		if (last_seq && len >= 54 && tsval_of(out, len))
			echo = tsval_of(out, len);
		if (last_seq && len >= 54) {
			uint32_t ihl = (out[14] & 15) * 4, doff = (out[14 + ihl + 12] >> 4) * 4;

			*last_seq = get32(out + 14 + ihl + 4);
			if (bytes)
				*bytes = len - 14 - ihl - doff;
		}
	}
	return n;
}

static double now_ns(void)
{
	struct timespec ts;

	if (no_time)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct path;
static void prepare(struct path *p);

struct path {
	const char *name;
	struct frame f;
	/* before each call: *slot = entry (ack_cache), or slot->key = 0 (ack_cont) */
	struct sl_answered *slot;
	struct sl_answered entry;
	int restore;
};

/* The sender cache entry as the path wants it before a call. */
static void prepare(struct path *p)
{
	if (!p->slot)
		return;
	if (p->restore)
		*p->slot = p->entry;
	else
		p->slot->key = 0;
}

int main(int argc, char **argv)
{
	static struct path paths[16];
	unsigned int np = 0, iters = 1000000;
	const char *only = NULL;
	uint32_t rxflags = 0, isn = 0, cseq = 1000, seq, bytes, sseq;
	struct frame syn, f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--path") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--csum-ok"))
			rxflags = SL_RX_IP_CSUM_OK | SL_RX_L4_CSUM_OK;
		else if (!strcmp(argv[i], "--tx-offload"))
			txflags = SL_TX_CSUM_OFFLOAD;
		else if (!strcmp(argv[i], "--ts"))
			use_ts = 1;
		else if (!strcmp(argv[i], "--no-time"))
			no_time = 1;
		else {
			fprintf(stderr, "usage: core_bench [--iters N] [--path NAME] [--csum-ok] "
				"[--tx-offload] [--ts] [--no-time]\n");
			return 2;
		}
	}
	sl_config_init(&cfg);
	cfg.addr = SERVER_IP;
	memcpy(cfg.mac, smac, 6);
	cfg.flags = SL_CFG_ARP | SL_CFG_ICMP_ECHO;
	memset(cfg.secret, 0x5a, sizeof(cfg.secret));
	if (sl_ports_parse(&cfg, "80", 2) || sl_config_finish(&cfg)) {
		fprintf(stderr, "core_bench: configuration rejected\n");
		return 1;
	}
	cfg.answered = table;
	cfg.answered_mask = 1023;

	/* The handshake, through the core itself: the SYN-ACK gives the ISN. */
	build(&syn, SERVER_IP, 0x02, cseq, 0, 64240, NULL, 1);
	if (run_once(&syn, 0, &isn, NULL) != 1) {
		fprintf(stderr, "core_bench: SYN not answered\n");
		return 1;
	}
	sseq = isn + 1;
	cseq++;
	paths[np].name = "syn";
	paths[np++].f = syn;
#define REQ(nm, tgt) do { \
		paths[np].name = nm; \
		build(&paths[np++].f, SERVER_IP, 0x18, cseq, sseq, 65535, \
		      "GET " tgt " HTTP/1.1\r\nHost: 10.77.0.1\r\nUser-Agent: bench\r\n\r\n", 0); \
	} while (0)
	REQ("req64", "/64");
	REQ("req1k", "/1k");
	REQ("req8k", "/8k");

	/* ACK mid-response: a 64k response sent into a window of 4 segments. */
	build(&f, SERVER_IP, 0x18, cseq, sseq, 4 * 1460,
	      "GET /64k HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n", 0);
	if (!run_once(&f, 0, &seq, &bytes)) {
		fprintf(stderr, "core_bench: request not answered\n");
		return 1;
	}
	for (unsigned int k = 0; k < 1024; k++)	/* the request's entry */
		if (table[k].key)
			paths[np].slot = &table[k];
	if (!paths[np].slot) {
		fprintf(stderr, "core_bench: no sender cache entry for the request\n");
		return 1;
	}
	paths[np].entry = *paths[np].slot;
	paths[np + 1] = paths[np];
	paths[np].name = "ack_cont";
	build(&paths[np++].f, SERVER_IP, 0x10, cseq + (uint32_t)strlen(
	      "GET /64k HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n"), seq + bytes, 4 * 1460, NULL, 0);
	paths[np].name = "ack_cache";
	paths[np].restore = 1;
	paths[np].f = paths[np - 1].f;
	np++;

	/* End of a keep-alive /64 response: its last ACK, and a FIN there. */
	build(&f, SERVER_IP, 0x18, cseq, sseq, 65535,
	      "GET /64 HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n", 0);
	run_once(&f, 0, &seq, &bytes);
	{
		uint32_t rl = (uint32_t)strlen("GET /64 HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n");

		paths[np].name = "ack_end";
		build(&paths[np++].f, SERVER_IP, 0x10, cseq + rl, seq + bytes, 65535, NULL, 0);
		paths[np].name = "fin";
		build(&paths[np++].f, SERVER_IP, 0x11, cseq + rl, seq + bytes, 65535, NULL, 0);
	}
	paths[np].name = "rst";
	build(&paths[np++].f, SERVER_IP, 0x04, cseq, 0, 0, NULL, 0);
	paths[np].name = "pass";
	build(&paths[np++].f, SERVER_IP + 1, 0x02, cseq, 0, 64240, NULL, 1);

	printf("%-9s %10s %12s %12s\n", "path", "frames_out", "ns_per_in", "ns_per_out");
	for (unsigned int p = 0; p < np; p++) {
		unsigned int frames = 0;
		double t0, t1;

		if (only && strcmp(only, paths[p].name))
			continue;
		prepare(&paths[p]);
		frames = run_once(&paths[p].f, rxflags, NULL, NULL);
		CALLGRIND_ZERO_STATS;
		CALLGRIND_START_INSTRUMENTATION;
		t0 = now_ns();
		for (unsigned int i = 0; i < iters; i++) {
			prepare(&paths[p]);
			run_once(&paths[p].f, rxflags, NULL, NULL);
		}
		t1 = now_ns();
		CALLGRIND_STOP_INSTRUMENTATION;
		CALLGRIND_DUMP_STATS_AT(paths[p].name);
		printf("%-9s %10u %12.1f %12.1f\n", paths[p].name, frames, (t1 - t0) / iters,
		       frames ? (t1 - t0) / iters / frames : 0.0);
	}
	return 0;
}
