// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Unit tests of the SLHTTPD core, built with ASan + UBSan.
 *
 * The core's files are included (a unity build) so that the layout and
 * state arithmetic can be checked directly, next to frame-level tests that
 * play a TCP client against sl_input()/sl_emit().
 */
#define _GNU_SOURCE
#include "../core/sl_util.c"
#include "../core/sl_csum.c"
#include "../core/sl_cookie.c"
#include "../core/sl_config.c"
#include "../core/sl_http.c"
#include "../core/sl_layout.c"
#include "../core/sl_tcp.c"
#include "../core/sl_input.c"
#include "../core/sl_output.c"
#include "http_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long n_pass, n_fail;

#define CHECK(cond, ...)						\
	do {								\
		if (cond) {						\
			n_pass++;					\
		} else {						\
			n_fail++;					\
			if (n_fail <= 30) {				\
				printf("FAIL %s:%d: %s: ", __FILE__,	\
				       __LINE__, #cond);		\
				printf(__VA_ARGS__);			\
				printf("\n");				\
			}						\
		}							\
	} while (0)

static struct sl_config cfg;
static sl_u32 now_ms;	/* the clock sl_input() sees (sl_rx.now) */

static void setup(sl_u16 mss, sl_u8 flags)
{
	sl_config_init(&cfg);
	cfg.addr = 0x0a4d0001;	/* 10.77.0.1 */
	cfg.mss = mss;
	cfg.flags = flags;
	memcpy(cfg.mac, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(cfg.secret, "0123456789abcdef", 16);
	if (sl_ports_parse(&cfg, "80,8000-8999", 12) || sl_config_finish(&cfg)) {
		printf("config failed for mss %u\n", mss);
		exit(2);
	}
}

/* ---- state arithmetic --------------------------------------------------- */

static unsigned int t_of(int c, sl_u32 pos)
{
	return ((SL_R0 - pos) * cfg.cls_inv[c]) & SL_STATE_MASK;
}

static void test_classes(void)
{
	static const sl_u16 msses[] = { 64, 76, 88, 300, 524, 536, 1000, 1400, 1448, 1460 };
	unsigned int i;
	int c;

	for (i = 0; i < sizeof(msses) / sizeof(msses[0]); i++) {
		setup(msses[i], 0);
		for (c = 0; c < SL_CLASSES; c++) {
			sl_u16 m = cfg.cls_seg[c];

			CHECK(m & 1, "mss %u class %d seg %u even", msses[i], c, m);
			CHECK(m <= cfg.cls_mss[c] && m + 64 > cfg.cls_mss[c],
			      "seg %u for class mss %u", m, cfg.cls_mss[c]);
			CHECK(((sl_u32)m * cfg.cls_inv[c] & 0xff) == 1, "inverse");
		}
	}
	setup(1460, 0);
	CHECK(cfg.cls_seg[SL_CLASSES - 1] >= 1420, "seg %u", cfg.cls_seg[7]);
}

/*
 * For every object size from 0 to the limit, both modes, every class: the
 * response ends on the mode's end state, every body boundary and head split
 * point decodes to itself, and X-Pad is the last header.
 */
static void test_layout_all_sizes(void)
{
	static struct sl_reply rp;
	unsigned long layouts = 0;
	int c, mode;
	sl_u32 b;

	setup(1460, 0);
	for (c = 0; c < SL_CLASSES; c++) {
		sl_u16 m = cfg.cls_seg[c];
		sl_u8 tc = cfg.cls_tclose[c];

		for (mode = 0; mode < 2; mode++) {
			for (b = 0; b <= SL_BODY_LIMIT; b++) {
				sl_u32 p0 = SL_R0 + 256 * (b & 7), end, k, n;
				unsigned int t_end;
				char cl[40];

				if (sl_layout(&cfg, &rp, 200, b, 0, mode, c)) {
					/* too big for this class: never for the top class */
					CHECK(c != SL_CLASSES - 1, "size %u refused", b);
					break;
				}
				layouts++;
				end = p0 + rp.resp_len;
				t_end = t_of(c, end);
				if (mode == SL_MODE_KEEPALIVE)
					CHECK(t_end == 0, "c%d ka b=%u t=%u", c, b, t_end);
				else
					CHECK(t_end == tc, "c%d cl b=%u t=%u", c, b, t_end);
				n = rp.body / m;
				for (k = 1; k <= n; k += (n > 8 ? n / 4 : 1)) {
					unsigned int t = t_of(c, end - k * m);

					CHECK(t == (mode ? tc + k : k), "boundary k=%u t=%u", k, t);
				}
				for (k = 1; k * m < rp.head_len; k++)
					CHECK(t_of(c, p0 + k * m) == 256 - k, "split %u", k);
				if (mode == SL_MODE_CLOSE)
					CHECK(t_of(c, end + 1) == cfg.cls_tfin_cl[c], "fin cl");
				snprintf(cl, sizeof(cl), "Content-Length: %u\r\n", b);
				CHECK(memmem(rp.hdr, rp.hdr_len, cl, strlen(cl)) != NULL,
				      "content-length %u", b);
				CHECK(rp.hdr_len >= 4 && !memcmp(rp.hdr + rp.hdr_len - 4, "\r\n\r\n", 4)
				      && memmem(rp.hdr, rp.hdr_len, "\r\nX-Pad: ", 9) != NULL,
				      "x-pad last");
				if (n_fail > 30)
					return;
			}
		}
	}
	printf("layouts checked: %lu\n", layouts);
}

/* ---- requests ------------------------------------------------------------ */

static void req(const char *s, int status, int head, int mode, sl_u32 body,
		int complete)
{
	struct sl_request r;
	int rc = sl_parse_request(&cfg, (const sl_u8 *)s, strlen(s), &r);

	CHECK(rc == 0 && r.status == status && (status != 200 ||
	      (r.head == head && r.body == body)) && r.mode == mode &&
	      r.complete == complete,
	      "'%s': rc %d status %u head %u mode %u body %u complete %u", s, rc,
	      r.status, r.head, r.mode, r.body, r.complete);
}

static void test_requests(void)
{
	struct sl_request r;

	setup(1460, 0);
	req("GET /64 HTTP/1.1\r\nHost: x\r\n\r\n", 200, 0, 0, 64, 1);
	req("GET /1k HTTP/1.1\r\n\r\n", 200, 0, 0, 1024, 1);
	req("GET /1K HTTP/1.0\r\n\r\n", 200, 0, 1, 1024, 1);
	req("GET /?s=100 HTTP/1.1\r\n\r\n", 200, 0, 0, 100, 1);
	req("GET /x?a=1&s=2k HTTP/1.1\r\n\r\n", 200, 0, 0, 2048, 1);
	req("\r\nGET /7 HTTP/1.1\r\n\r\n", 200, 0, 0, 7, 1);
	req("GET /?a=1&s=2k HTTP/1.1\r\n\r\n", 200, 0, 0, 2048, 1);
	req("GET / HTTP/1.1\r\n\r\n", 200, 0, 0, 1024, 1);
	req("HEAD /10 HTTP/1.1\r\n\r\n", 200, 1, 0, 10, 1);
	req("GET /10 HTTP/1.1\r\nConnection: close\r\n\r\n", 200, 0, 1, 10, 1);
	req("GET /10 HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", 200, 0, 0, 10, 1);
	req("GET /10 HTTP/1.1\nConnection: keep-alive, close\n\n", 200, 0, 1, 10, 1);
	req("GET http://h:8080/5 HTTP/1.1\r\n\r\n", 200, 0, 0, 5, 1);
	req("GET /abc HTTP/1.1\r\n\r\n", 404, 0, 0, 0, 1);
	req("GET /1g HTTP/1.1\r\n\r\n", 404, 0, 0, 0, 1);
	req("GET /200k HTTP/1.1\r\n\r\n", 413, 0, 0, 0, 1);
	req("GET /99999999999999999999 HTTP/1.1\r\n\r\n", 413, 0, 0, 0, 1);
	req("GET /?s=1x HTTP/1.1\r\n\r\n", 400, 0, 0, 0, 1);
	req("POST /1 HTTP/1.1\r\n\r\n", 405, 0, 0, 0, 1);
	req("G@T /1 HTTP/1.1\r\n\r\n", 400, 0, 1, 0, 1);
	req("GET /1 HTTP/2.0\r\n\r\n", 400, 0, 1, 0, 1);
	req("GET 1 HTTP/1.1\r\n\r\n", 400, 0, 0, 0, 1);
	req("GET /1 HTTP/1.1\r\nHost: a\r\n", 200, 0, 0, 1, 0);
	CHECK(sl_parse_request(&cfg, (const sl_u8 *)"GET /1 HT", 9, &r) < 0, "partial line");
	sl_parse_request(&cfg, (const sl_u8 *)"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 38, &r);
	CHECK(r.complete && r.pipelined, "pipelined");
}

/*
 * The parser against the reference (tests/http_ref.c, the previous parser):
 * every field of the result, on requests built from the pieces the grammar
 * cares about, mutated byte by byte and cut short, and on random bytes.
 */
static sl_u32 ref_rng = 0x2545f491u;

static sl_u32 ref_rand(void)
{
	ref_rng ^= ref_rng << 13;
	ref_rng ^= ref_rng >> 17;
	ref_rng ^= ref_rng << 5;
	return ref_rng;
}

static unsigned long ref_checked, ref_differ;

static void ref_compare(const sl_u8 *d, sl_u32 len)
{
	struct sl_request a, b;
	int ra, rb;

	ref_checked++;
	if (ref_parse_both(&cfg, d, len, &ra, &a, &rb, &b))
		return;
	ref_differ++;
	CHECK(0, "parser differs from the reference on '%.*s' (%u bytes): "
	      "rc %d/%d status %u/%u head %u/%u mode %u/%u complete %u/%u "
	      "pipelined %u/%u body %u/%u", (int)len, (const char *)d, len,
	      ra, rb, a.status, b.status, a.head, b.head, a.mode, b.mode,
	      a.complete, b.complete, a.pipelined, b.pipelined, a.body, b.body);
}

static void test_parser_reference(void)
{
	static const char *const lead[] = { "", "", "", "\r\n", "\n", "\r\r\n\n" };
	static const char *const meth[] = {
		"GET", "GET", "HEAD", "POST", "G@T", "get", "GETS", "HEADX", "",
		"X", "!#$%", "GE T",
	};
	static const char *const target[] = {
		"/", "/64", "/1k", "/1K", "/2m", "/0", "/abc", "/1g", "/k", "/64k",
		"/200k", "/99999999999999999999", "/2147483648", "/2097152k",
		"/2048m", "/2049m", "/?s=100", "/x?a=1&s=2k", "/?a=1&s=2k", "/?s=1x",
		"/?s=", "/?s", "/?s=5&s=x", "/64?s=x", "/?s=1&", "/?&&s=3", "/a?s=3",
		"/?ss=3", "/?s=3?", "/?x=1", "/64?", "/?s=1k&s=2", "/?s=1kk",
		"/?s=k", "http://h:8080/5", "HTTP://h/7", "http:///5", "http://",
		"http://h", "https://h/5", "h", "http:/", "1", "", "/\x80x",
		"/a b", "/\x7f", "/5\t",
	};
	static const char *const version[] = {
		"HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "http/1.1",
		"HTTP/1.1 ", "HTTP/1.", "HTTP/1.11", " HTTP/1.1", "",
	};
	static const char *const eol[] = { "\r\n", "\r\n", "\n", "\r\r\n", "\r", "" };
	static const char *const header[] = {
		"Host: 10.77.0.1", "User-Agent: bench", "Connection: close",
		"connection: Keep-Alive", "Connection: keep-alive, close",
		"Connection: close, keep-alive", "Connection:close",
		"Connection:", "Connection: ", "Connection: \tkeep-alive,,",
		"Connection: closed", "Connection: keep-alivex", "Connection : close",
		" Connection: close", "Connection: close\r", "Connection: cl\rose",
		"Connection: keep-alive\r", "Connection: upgrade", "X: y", "\r",
		"connectio", "Connection: close\rx", "Connection: KEEP-ALIVE",
	};
	static const sl_u8 alphabet[] = " \r\n\t,?&=/skmKM0123456789hGETHAD:c\x7f\x80\x00";
	char buf[600];
	sl_u32 n, len, j, k, cut, pos, nh;

	setup(1460, 0);
	for (n = 0; n < 400000; n++) {
		len = 0;
#define REF_ADD(s) do { const char *s_ = (s); sl_u32 l_ = strlen(s_); \
		if (len + l_ < sizeof(buf)) { memcpy(buf + len, s_, l_); len += l_; } } while (0)
		REF_ADD(lead[ref_rand() % 6]);
		REF_ADD(meth[ref_rand() % (sizeof(meth) / sizeof(meth[0]))]);
		REF_ADD(ref_rand() % 16 ? " " : "  ");
		REF_ADD(target[ref_rand() % (sizeof(target) / sizeof(target[0]))]);
		REF_ADD(ref_rand() % 16 ? " " : "  ");
		REF_ADD(version[ref_rand() % (sizeof(version) / sizeof(version[0]))]);
		REF_ADD(eol[ref_rand() % 6]);
		nh = ref_rand() % 4;
		for (j = 0; j < nh; j++) {
			REF_ADD(header[ref_rand() % (sizeof(header) / sizeof(header[0]))]);
			REF_ADD(eol[ref_rand() % 6]);
		}
		REF_ADD(eol[ref_rand() % 6]);
		if (ref_rand() % 4 == 0)
			REF_ADD("GET /2 HTTP/1.1\r\n\r\n");
#undef REF_ADD
		/* a few mutations */
		k = ref_rand() % 4;
		for (j = 0; j < k && len; j++) {
			pos = ref_rand() % len;
			switch (ref_rand() % 3) {
			case 0:
				buf[pos] = (char)alphabet[ref_rand() % (sizeof(alphabet) - 1)];
				break;
			case 1:
				memmove(buf + pos, buf + pos + 1, len - pos - 1);
				len--;
				break;
			default:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = (char)alphabet[ref_rand() %
								  (sizeof(alphabet) - 1)];
					len++;
				}
			}
		}
		ref_compare((const sl_u8 *)buf, len);
		/* cut short at every 7th length */
		for (cut = n % 7; cut < len; cut += 7)
			ref_compare((const sl_u8 *)buf, cut);
	}
	/* random bytes over the alphabet, and any byte */
	for (n = 0; n < 200000; n++) {
		len = ref_rand() % 80;
		for (j = 0; j < len; j++)
			buf[j] = (char)(n & 1 ? ref_rand() :
					alphabet[ref_rand() % (sizeof(alphabet) - 1)]);
		ref_compare((const sl_u8 *)buf, len);
	}
	printf("parser vs reference: %lu requests, %lu differ\n", ref_checked,
	       ref_differ);
}

static void test_ports(void)
{
	struct sl_config c;

	sl_config_init(&c);
	CHECK(sl_ports_parse(&c, "80,8000-8999", 12) == 0 && sl_port_served(&c, 80) &&
	      sl_port_served(&c, 8500) && !sl_port_served(&c, 81) &&
	      !sl_port_served(&c, 9000), "ports");
	CHECK(sl_ports_parse(&c, "8999-8000", 9) < 0, "reversed");
	CHECK(sl_ports_parse(&c, "70000", 5) < 0, "too big");
	CHECK(sl_ports_parse(&c, "abc", 3) < 0, "letters");
	CHECK(sl_ports_parse(&c, "", 0) < 0, "empty");
	CHECK(sl_ports_parse(&c, "0", 1) < 0, "zero");
	CHECK(sl_port_served(&c, 80), "a failed parse keeps the old map");
}

/* ---- a TCP client played against sl_input()/sl_emit() -------------------- */

struct client {
	sl_u32 addr;
	sl_u16 port, sport;
	sl_u32 snd_nxt;		/* next byte we send */
	sl_u32 irs;		/* server ISN */
	sl_u32 rcv_nxt;		/* next server byte expected */
	sl_u16 mss;
	sl_u16 win;
	sl_u8 got_fin;
	unsigned char data[2 * SL_BODY_LIMIT + 8192];
	sl_u32 len;
	unsigned char ooo[128][2048];	/* out-of-order segments */
	sl_u32 ooo_seq[128], ooo_len[128];
	int nooo;
	unsigned int drop_every;	/* drop every Nth server segment */
	unsigned int seen;
	sl_u32 lcg;
	sl_u32 reqlen;
	int ts;			/* negotiate timestamps (RFC 7323) */
	sl_u32 ts_recent;	/* TSval of the first segment after our last ACK */
	sl_u32 rcv_wup;		/* rcv_nxt when we last acknowledged */
	sl_u32 clock;		/* our TSval */
};

static sl_u16 csum16(const sl_u8 *p, size_t n, sl_u32 sum)
{
	while (n > 1) {
		sum += (p[0] << 8) | p[1];
		p += 2;
		n -= 2;
	}
	if (n)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (sl_u16)~sum;
}

static size_t mkframe(sl_u8 *f, const struct client *cl, sl_u8 flags, sl_u32 seq,
		      sl_u32 ack, sl_u16 win, const void *pl, size_t plen, int mss_opt)
{
	sl_u8 *ip = f + 14, *th = ip + 20;
	size_t thl = 20 + (mss_opt ? 4 : 0) + (cl->ts ? 12 : 0), tot = 20 + thl + plen;
	sl_u32 sum;

	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	sl_wr16(ip + 2, (sl_u16)tot);
	ip[8] = 64;
	ip[9] = 6;
	sl_wr32(ip + 12, cl->addr);
	sl_wr32(ip + 16, cfg.addr);
	sl_wr16(ip + 10, csum16(ip, 20, 0));
	memset(th, 0, thl);
	sl_wr16(th, cl->port);
	sl_wr16(th + 2, cl->sport);
	sl_wr32(th + 4, seq);
	sl_wr32(th + 8, ack);
	th[12] = (sl_u8)((thl / 4) << 4);
	th[13] = flags;
	sl_wr16(th + 14, win);
	if (mss_opt) {
		th[20] = 2;
		th[21] = 4;
		sl_wr16(th + 22, cl->mss);
	}
	if (cl->ts) {
		sl_u8 *o = th + (mss_opt ? 24 : 20);

		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		sl_wr32(o + 4, cl->clock);
		sl_wr32(o + 8, cl->ts_recent);
	}
	memcpy(th + thl, pl, plen);
	sum = cl->addr >> 16 | 0;
	sum = (cl->addr >> 16) + (cl->addr & 0xffff) + (cfg.addr >> 16) +
	      (cfg.addr & 0xffff) + 6 + (sl_u32)(thl + plen);
	sl_wr16(th + 16, csum16(th, thl + plen, sum));
	return 14 + tot;
}

struct out {
	int n;
	sl_u8 fr[64][SL_FRAME_MAX];
	sl_u32 len[64];
};

static enum sl_verdict run(struct sl_stats *st, const sl_u8 *f, size_t len, struct out *o)
{
	struct sl_rx rx = { f, (sl_u32)len, 0, now_ms };
	struct sl_reply rp;
	struct sl_txinfo ti;
	enum sl_verdict v = sl_input(&cfg, st, &rx, &rp);
	sl_u32 n;

	o->n = 0;
	if (v != SL_REPLY)
		return v;
	while (o->n < 64 && (n = sl_emit(&cfg, st, &rp, o->fr[o->n], SL_FRAME_MAX, 0, &ti))) {
		const sl_u8 *ip = o->fr[o->n] + 14;
		sl_u32 tot = sl_rd16(ip + 2);

		if (sl_rd16(o->fr[o->n] + 12) != 0x0800) {	/* ARP */
			o->len[o->n++] = n;
			continue;
		}
		CHECK(n == 14 + tot, "frame length");
		CHECK(csum16(ip, 20, 0) == 0, "ip checksum");
		if (ip[9] == 6) {
			sl_u32 sum = (sl_rd32(ip + 12) >> 16) + (sl_rd32(ip + 12) & 0xffff) +
				     (sl_rd32(ip + 16) >> 16) + (sl_rd32(ip + 16) & 0xffff) + 6 +
				     (tot - 20);
			CHECK(csum16(ip + 20, tot - 20, sum) == 0, "tcp checksum");
		}
		o->len[o->n++] = n;
	}
	CHECK(o->n < 64, "burst too long");
	return v;
}

/* Feed server frames to the client: in-order data is appended. */
static void client_rx(struct client *cl, const struct out *o, int *rst)
{
	int i, k;

	for (i = 0; i < o->n; i++) {
		const sl_u8 *th = o->fr[i] + 34;
		sl_u32 thl = (th[12] >> 4) * 4, tot = sl_rd16(o->fr[i] + 16);
		sl_u32 seq = sl_rd32(th + 4), plen = tot - 20 - thl;
		sl_u8 fl = th[13];

		if (fl & SL_TH_RST) {
			*rst = 1;
			continue;
		}
		if (cl->ts) {
			CHECK(thl >= 32 && th[thl - 12] == 1 && th[thl - 10] == 8 &&
			      sl_rd32(th + thl - 4) == cl->clock, "timestamp option echoed");
			if (seq == cl->rcv_wup || (fl & SL_TH_SYN)) {
				/* PAWS: a server clock going back would be dropped
				 * (the SYN-ACK sets the first value) */
				CHECK((fl & SL_TH_SYN) ||
				      (sl_s32)(sl_rd32(th + thl - 8) - cl->ts_recent) >= -1,
				      "TSval went back: %u < %u", sl_rd32(th + thl - 8), cl->ts_recent);
				cl->ts_recent = sl_rd32(th + thl - 8);
			}
		} else {
			CHECK(thl == 20 || (fl & SL_TH_SYN), "no options without timestamps");
		}
		if (fl & SL_TH_SYN) {
			cl->irs = seq;
			cl->rcv_nxt = seq + 1;
			cl->rcv_wup = cl->rcv_nxt;
			continue;
		}
		CHECK(plen <= cl->mss, "segment %u > client mss %u", plen, cl->mss);
		/* response data never acknowledges the request it answers */
		/* response data never acknowledges the whole request it answers,
		 * except a response of one segment */
		if (plen)
			CHECK(sl_rd32(th + 8) == cl->snd_nxt ||
			      sl_rd32(th + 8) == cl->snd_nxt + cl->reqlen - 1 ||
			      (sl_rd32(th + 8) == cl->snd_nxt + cl->reqlen && (fl & SL_TH_PSH) &&
			       !memcmp(th + thl, "HTTP/1.1 ", 9)),
			      "data ack %u, request %u+%u", sl_rd32(th + 8), cl->snd_nxt, cl->reqlen);
		cl->seen++;
		/* lose about one data segment in drop_every (a fixed LCG) */
		cl->lcg = cl->lcg * 1103515245u + 12345u;
		if (cl->drop_every && plen && (cl->lcg >> 16) % cl->drop_every == 0)
			continue;
		if (seq == cl->rcv_nxt) {
			if (cl->len + plen > sizeof(cl->data)) {
				CHECK(0, "client buffer overflow: len %u plen %u", cl->len, plen);
				return;
			}
			memcpy(cl->data + cl->len, th + thl, plen);
			cl->len += plen;
			cl->rcv_nxt += plen;
			if (fl & SL_TH_FIN) {
				cl->got_fin = 1;
				cl->rcv_nxt++;
			}
			/* pull in queued out-of-order segments */
			for (k = 0; k < cl->nooo; k++) {
				if (cl->ooo_len[k] && cl->ooo_seq[k] == cl->rcv_nxt) {
					if (cl->len + cl->ooo_len[k] > sizeof(cl->data)) {
						CHECK(0, "ooo overflow len %u", cl->len);
						return;
					}
					memcpy(cl->data + cl->len, cl->ooo[k], cl->ooo_len[k]);
					cl->len += cl->ooo_len[k];
					cl->rcv_nxt += cl->ooo_len[k];
					cl->ooo_len[k] = 0;
					k = -1;
				}
			}
		} else if (seq - cl->rcv_nxt < 0x80000000u && cl->nooo < 128 && plen) {
			cl->ooo_seq[cl->nooo] = seq;
			cl->ooo_len[cl->nooo] = plen;
			memcpy(cl->ooo[cl->nooo++], th + thl, plen);
		}
	}
}

static const char *expect_body_ok(const unsigned char *b, sl_u32 n)
{
	sl_u32 i;

	for (i = 0; i < n; i++)
		if (b[i] != (unsigned char)sl_body_line[(64 - (n - i) % 64) % 64])
			return "pattern";
	return NULL;
}

/*
 * One connection: handshake, `nreq` requests for `size`, every response
 * checked byte for byte. The client acknowledges what arrived in order
 * with window `win`, loses about one segment in `drop_every` and then
 * retransmits its request. Returns the number of frames exchanged.
 */
static int sim_ts;	/* conversations negotiate timestamps */

/* The client is about to send a segment acknowledging rcv_nxt. */
static void client_tick(struct client *cl)
{
	cl->clock++;
	cl->rcv_wup = cl->rcv_nxt;
}

/*
 * A client that acknowledges every second segment (RFC 1122's delayed ACK, as
 * Linux does in bulk transfer) and what is left when nothing more arrives
 * (its delayed-ACK timer). Frames travel in order through a FIFO; the answers
 * to its ACKs join the tail. Bounded by the FIFO and a step count.
 */
#define ACKQ	1024
static void ack_pairs(struct client *cl, struct sl_stats *st, const struct out *first,
		      sl_u16 win, int *rst)
{
	static sl_u8 qfr[ACKQ][SL_FRAME_MAX];
	static sl_u32 qlen[ACKQ], qclk[ACKQ];	/* qclk: the client TSval it echoes */
	static struct out one, o;
	static sl_u8 f[SL_FRAME_MAX + 64];
	unsigned int head = 0, tail = 0, fed = 0, i, guard;
	sl_u32 acked = cl->rcv_nxt;
	size_t n;

	for (i = 0; i < (unsigned int)first->n; i++, tail++) {
		memcpy(qfr[tail % ACKQ], first->fr[i], first->len[i]);
		qlen[tail % ACKQ] = first->len[i];
		qclk[tail % ACKQ] = cl->clock;
	}
	for (guard = 0; guard < 100000 && !*rst; guard++) {
		int pending = head != tail;

		if (pending) {
			sl_u32 clock = cl->clock;

			one.n = 1;
			memcpy(one.fr[0], qfr[head % ACKQ], qlen[head % ACKQ]);
			one.len[0] = qlen[head % ACKQ];
			cl->clock = qclk[head % ACKQ];	/* what the frame echoes */
			head++;
			client_rx(cl, &one, rst);
			cl->clock = clock;
			fed++;
			if (fed % 2 && head != tail)
				continue;
		}
		if (cl->rcv_nxt == acked) {
			if (!pending)
				break;
			continue;
		}
		acked = cl->rcv_nxt;
		client_tick(cl);
		n = mkframe(f, cl, SL_TH_ACK, cl->snd_nxt + cl->reqlen, cl->rcv_nxt, win, "", 0, 0);
		run(st, f, n, &o);
		for (i = 0; i < (unsigned int)o.n; i++, tail++) {
			CHECK(tail - head < ACKQ, "ack queue overflow");
			memcpy(qfr[tail % ACKQ], o.fr[i], o.len[i]);
			qlen[tail % ACKQ] = o.len[i];
			qclk[tail % ACKQ] = cl->clock;
		}
	}
	CHECK(guard < 100000, "ack_pairs did not settle");
}

static int conversation(sl_u16 mss, sl_u16 win, sl_u32 size, int close, int head,
			int nreq, unsigned int drop_every)
{
	static struct client cl;
	static struct out o;
	static sl_u8 f[SL_FRAME_MAX + 64];
	struct sl_stats st = { 0 };
	char reqs[128];
	int r, rst = 0, rounds;
	size_t n;

	memset(&cl, 0, sizeof(cl));
	cl.addr = 0x0a4d0002;
	cl.port = 40000 + (size & 0x3ff);
	cl.sport = 80;
	cl.snd_nxt = 1000;
	cl.mss = mss;
	cl.win = win;
	cl.drop_every = drop_every;
	cl.ts = sim_ts;
	cl.clock = 5000;
	n = mkframe(f, &cl, SL_TH_SYN, cl.snd_nxt - 1, 0, win, "", 0, 1);
	run(&st, f, n, &o);
	client_rx(&cl, &o, &rst);
	CHECK(o.n == 1 && cl.rcv_nxt, "syn-ack");
	snprintf(reqs, sizeof(reqs), "%s /%u HTTP/1.1\r\nHost: t\r\n%s\r\n", head ? "HEAD" : "GET",
		 size, close ? "Connection: close\r\n" : "");
	cl.reqlen = (sl_u32)strlen(reqs);
	for (r = 0; r < nreq; r++) {
		sl_u32 start = cl.len, want_end = 0;
		char *hdr_end = NULL;
		unsigned long clen = 0;

		/* send the request; retransmit it while the response is incomplete */
		for (rounds = 0; rounds < 400; rounds++) {
			sl_u32 before = cl.rcv_nxt;
			int k, acks = 0;

			client_tick(&cl);
			n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, win,
				    reqs, strlen(reqs), 0);
			run(&st, f, n, &o);
			if (sim_ts) {	/* a delayed-ACK client: an ACK per two segments */
				ack_pairs(&cl, &st, &o, win, &rst);
				goto acked;
			}
			client_rx(&cl, &o, &rst);
			/* ack what arrived in order, after each burst (stretch ACKs) */
			for (k = 0; k < 200 && !rst; k++) {
				sl_u32 last = cl.rcv_nxt;

				if (acks++ > 0 && last == before)
					break;
				before = last;
				client_tick(&cl);
				n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + (sl_u32)strlen(reqs),
					    cl.rcv_nxt, win, "", 0, 0);
				run(&st, f, n, &o);
				client_rx(&cl, &o, &rst);
			}
acked:
			hdr_end = memmem(cl.data + start, cl.len - start, "\r\n\r\n", 4);
			if (hdr_end) {
				clen = strtoul(strstr((char *)cl.data + start, "Content-Length: ") + 16, NULL, 10);
				want_end = (sl_u32)((unsigned char *)hdr_end + 4 - cl.data) + (head ? 0 : (sl_u32)clen);
				if (cl.len >= want_end && (!close || cl.got_fin))
					break;
			}
		}
		CHECK(!rst, "rst during response size %u", size);
		CHECK(rounds < 400, "response never completed: size %u mss %u win %u close %d drop %u",
		      size, mss, win, close, drop_every);
		if (rounds >= 400 || rst)
			return -1;
		CHECK(!strncmp((char *)cl.data + start, "HTTP/1.1 200 OK\r\n", 17), "status");
		CHECK(clen == size, "content-length %lu != %u", clen, size);
		if (!head)
			CHECK(expect_body_ok((unsigned char *)hdr_end + 4, size) == NULL,
			      "body pattern size %u", size);
		CHECK(cl.len == want_end, "extra bytes: %u vs %u", cl.len, want_end);
		cl.snd_nxt += (sl_u32)strlen(reqs);
		if (close)
			break;
	}
	if (close) {
		/* our FIN: answered with an ACK, twice the same */
		struct out o2;

		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_FIN, cl.snd_nxt, cl.rcv_nxt, win, "", 0, 0);
		run(&st, f, n, &o);
		run(&st, f, n, &o2);
		CHECK(o.n == 1 && o2.n == 1 && o.len[0] == o2.len[0] &&
		      !memcmp(o.fr[0], o2.fr[0], o.len[0]), "duplicate FIN answered alike");
		CHECK(o.n == 1 && (o.fr[0][47] & (SL_TH_ACK | SL_TH_FIN | SL_TH_RST)) == SL_TH_ACK &&
		      sl_rd32(o.fr[0] + 42) == cl.snd_nxt + 1, "final ack");
	}
	CHECK(st.c[SL_C_BAD_STATE] == 0 && st.c[SL_C_BAD_COOKIE] == 0, "bad states %llu cookies %llu",
	      (unsigned long long)st.c[SL_C_BAD_STATE], (unsigned long long)st.c[SL_C_BAD_COOKIE]);
	/* with timestamps and no loss, ACKs alone carry every response through */
	if (sim_ts && !drop_every)
		CHECK(st.c[SL_C_REQ_RETRANS] == 0, "size %u mss %u win %u: %llu retransmissions needed",
		      size, mss, win, (unsigned long long)st.c[SL_C_REQ_RETRANS]);
	return 0;
}

/* with_table: the answered filter and sender cache; else the stateless rules */
static void test_conversations(int with_table)
{
	static const sl_u32 sizes[] = { 1451, 1452, 2902, 4096, 10000, 65536, 100000, 131072 };
	static struct sl_answered table[4096];
	unsigned int i;
	sl_u32 b;

	setup(1460, 0);
	memset(table, 0, sizeof(table));
	if (with_table) {
		cfg.answered = table;
		cfg.answered_mask = 4095;
	}
	for (b = 0; b <= 3000; b += (b < 300 ? 1 : 7)) {
		conversation(1460, 65535, b, 0, 0, 3, 0);
		conversation(1460, 65535, b, 1, 0, 1, 0);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		conversation(1460, 65535, sizes[i], 0, 0, 2, 0);
		conversation(1460, 65535, sizes[i], 1, 0, 1, 0);
		conversation(1460, 65535, sizes[i], 0, 1, 2, 0);
		conversation(1460, 8000, sizes[i], 0, 0, 2, 0);	/* small window */
		conversation(1460, 8000, sizes[i], 1, 0, 1, 0);
		conversation(1460, 65535, sizes[i], 0, 0, 2, 3);	/* loss */
		conversation(1460, 65535, sizes[i], 1, 0, 1, 5);
		conversation(536, 65535, sizes[i] / 3, 0, 0, 2, 0);	/* small mss */
		conversation(88, 65535, sizes[i] / 40, 1, 0, 1, 0);	/* tiny mss */
		conversation(88, 4000, sizes[i] / 40, 0, 0, 1, 4);
	}
}

/* ---- malformed frames ------------------------------------------------------ */

static void test_truncations(void)
{
	static struct client cl;
	static struct out o;
	sl_u8 f[256], *g;
	struct sl_stats st = { 0 };
	size_t n, cut;
	int bit;

	setup(1460, SL_CFG_ARP | SL_CFG_ICMP_ECHO);
	cl.addr = 0x0a4d0002;
	cl.port = 1234;
	cl.sport = 80;
	cl.mss = 1460;
	n = mkframe(f, &cl, SL_TH_SYN, 1, 0, 1000, "", 0, 1);
	/* every prefix, each in its own heap block so ASan sees overreads */
	for (cut = 0; cut < n; cut++) {
		g = malloc(cut ? cut : 1);
		memcpy(g, f, cut);
		CHECK(run(&st, g, cut, &o) != SL_REPLY, "truncated frame %zu answered", cut);
		free(g);
	}
	/* every single-bit flip of a SYN: never a crash, answers stay sane */
	for (bit = 0; bit < (int)n * 8; bit++) {
		g = malloc(n);
		memcpy(g, f, n);
		g[bit / 8] ^= (sl_u8)(1 << (bit % 8));
		run(&st, g, n, &o);
		free(g);
	}
	CHECK(st.c[SL_C_DROP_CSUM] > 100, "checksums verified: %llu",
	      (unsigned long long)st.c[SL_C_DROP_CSUM]);
}

static void test_cookie(void)
{
	static struct out o;
	struct client cl = { 0 };
	struct sl_stats st = { 0 };
	sl_u8 f[256];
	unsigned int i, answered = 0;
	size_t n;

	setup(1460, 0);
	cl.addr = 0x0a4d0002;
	cl.port = 5555;
	cl.sport = 80;
	srand(1);
	for (i = 0; i < 20000; i++) {
		sl_u32 ack = ((sl_u32)rand() << 16) ^ (sl_u32)rand();
		const char *g = "GET /100k HTTP/1.1\r\n\r\n";

		n = mkframe(f, &cl, SL_TH_ACK, 77, ack, 65535, g, strlen(g), 0);
		run(&st, f, n, &o);
		if (o.n > 1 || (o.n == 1 && !(o.fr[0][47] & SL_TH_RST)))
			answered++;
	}
	/* 8 classes x 2^22 positions of 2^32: about 1/128 land anywhere */
	CHECK(answered < 20000 / 160, "spoofed requests answered: %u of 20000", answered);
	printf("spoofed ACK+GET answered: %u of 20000\n", answered);
}

/*
 * The body's checksum from the line's prefix sums equals the byte-wise sum,
 * for every line offset, every run length a segment can have, both
 * parities (sl_csum_body), and the table is the line's.
 */
static void test_csum_body(void)
{
	static sl_u8 buf[1 + SL_MSS_MAX + 64];
	sl_u32 a, n, odd, k, p = 0, bad = 0;

	for (k = 0; k <= 64; k++) {
		CHECK(sl_line_psum[k] == p, "psum[%u] %u != %u", k, sl_line_psum[k], p);
		if (k < 64)
			p += (k & 1) ? (sl_u8)sl_body_line[k] : (sl_u32)(sl_u8)sl_body_line[k] << 8;
	}
	for (a = 0; a < 64; a++) {
		for (odd = 0; odd < 2; odd++) {
			buf[0] = 0;
			for (k = 0; k < SL_MSS_MAX; k++)
				buf[odd + k] = (sl_u8)sl_body_line[(a + k) & 63];
			for (n = 0; n <= SL_MSS_MAX; n++) {
				sl_u16 want = sl_csum_fold(sl_csum_add(0, buf, odd + n));
				sl_u16 got = sl_csum_fold(sl_csum_body(a, n, odd));

				/* ones' complement: 0 and 0xffff are the same sum */
				if (want % 0xffff != got % 0xffff && bad++ < 5)
					CHECK(0, "a=%u n=%u odd=%u: %04x != %04x", a, n, odd, got, want);
			}
		}
	}
	CHECK(bad == 0, "%u body sums wrong", bad);
}

/* ---- addressing (PROTOCOL.md "Who is answered") --------------------------- */

/* Recompute the IP and TCP checksums of a frame whose headers were edited. */
static void refix(sl_u8 *f, size_t n)
{
	sl_u8 *ip = f + 14, *th = ip + 20;
	sl_u32 tot = sl_rd16(ip + 2), sa = sl_rd32(ip + 12), da = sl_rd32(ip + 16);

	(void)n;
	sl_wr16(ip + 10, 0);
	sl_wr16(ip + 10, csum16(ip, 20, 0));
	sl_wr16(th + 16, 0);
	sl_wr16(th + 16, csum16(th, tot - 20, (sa >> 16) + (sa & 0xffff) + (da >> 16) +
				(da & 0xffff) + 6 + (tot - 20)));
}

/* A SYN from 10.77.0.2 to dst (cfg.addr if 0), edited by the caller. */
static size_t addr_syn(sl_u8 *f, sl_u32 src, sl_u32 dst)
{
	struct client cl = { 0 };
	size_t n;

	cl.addr = src;
	cl.port = 1234;
	cl.sport = 80;
	cl.mss = 1460;
	n = mkframe(f, &cl, SL_TH_SYN, 1, 0, 1000, "", 0, 1);
	if (dst) {
		sl_wr32(f + 30, dst);
		refix(f, n);
	}
	return n;
}

static void test_addressing(void)
{
	static const struct {
		const char *what;
		sl_u32 src, dst;
		sl_u8 eth_dst[6], eth_src[6];
		int any;		/* served address: any */
		enum sl_verdict v;
	} cases[] = {
		{ "valid", 0x0a4d0002, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_REPLY },
		{ "valid, any", 0x0a4d0002, 0x0a010203, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_REPLY },
		{ "to broadcast MAC", 0x0a4d0002, 0, { 255, 255, 255, 255, 255, 255 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_PASS },
		{ "to multicast MAC", 0x0a4d0002, 0, { 1, 0, 0x5e, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_PASS },
		{ "to another host's MAC", 0x0a4d0002, 0, { 2, 0, 0, 0, 0, 9 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_PASS },
		{ "from a multicast MAC", 0x0a4d0002, 0, { 2, 0, 0, 0, 0, 1 }, { 1, 0, 0x5e, 0, 0, 1 }, 0, SL_DROP },
		{ "from a broadcast MAC", 0x0a4d0002, 0, { 2, 0, 0, 0, 0, 1 }, { 255, 255, 255, 255, 255, 255 }, 0, SL_DROP },
		{ "from 255.255.255.255", 0xffffffff, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from 224.0.0.1", 0xe0000001, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from 240.1.2.3", 0xf0010203, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from 0.1.2.3", 0x00010203, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from 127.0.0.1", 0x7f000001, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from our own address", 0x0a4d0001, 0, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 0, SL_DROP },
		{ "from its destination, any", 0x0a010203, 0x0a010203, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_DROP },
		{ "to 255.255.255.255, any", 0x0a4d0002, 0xffffffff, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_PASS },
		{ "to 224.0.0.1, any", 0x0a4d0002, 0xe0000001, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_PASS },
		{ "to 127.0.0.1, any", 0x0a4d0002, 0x7f000001, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_PASS },
		{ "to 0.0.0.0, any", 0x0a4d0002, 0x00000000, { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 }, 1, SL_PASS },
	};
	static struct out o;
	struct sl_stats st = { 0 };
	struct sl_config bad;
	sl_u8 f[256];
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sl_verdict v;
		size_t n;

		setup(1460, SL_CFG_ARP | SL_CFG_ICMP_ECHO);
		if (cases[i].any)
			cfg.addr = 0;
		n = addr_syn(f, cases[i].src, cases[i].dst ? cases[i].dst : 0);
		if (cases[i].dst == 0 && cases[i].any) {	/* to 0.0.0.0 */
			sl_wr32(f + 30, 0);
			refix(f, n);
		}
		memcpy(f, cases[i].eth_dst, 6);
		memcpy(f + 6, cases[i].eth_src, 6);
		v = run(&st, f, n, &o);
		CHECK(v == cases[i].v, "%s: verdict %d, expected %d", cases[i].what, v, cases[i].v);
		if (v == SL_REPLY)
			CHECK(o.n == 1 && !memcmp(o.fr[0] + 6, cfg.mac, 6) &&
			      !memcmp(o.fr[0], cases[i].eth_src, 6), "%s: reply MACs", cases[i].what);
	}
	CHECK(st.c[SL_C_DROP_ADDR] == 9, "drop_addr %llu", (unsigned long long)st.c[SL_C_DROP_ADDR]);

	/* ARP: a broadcast request is answered from our MAC; not from a group */
	{
		static const sl_u8 arp[42] = {
			255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 2, 8, 6,
			0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 77, 0, 2,
			0, 0, 0, 0, 0, 0, 10, 77, 0, 1,
		};

		setup(1460, SL_CFG_ARP);
		memcpy(f, arp, sizeof(arp));
		CHECK(run(&st, f, sizeof(arp), &o) == SL_REPLY && o.n == 1 &&
		      !memcmp(o.fr[0] + 6, cfg.mac, 6), "arp answered");
		f[6] = 1;	/* from a multicast MAC */
		CHECK(run(&st, f, sizeof(arp), &o) == SL_DROP, "arp from a group MAC");
		f[6] = 2;
		memcpy(f + 28, "\x0a\x4d\x00\x01", 4);	/* from our own address */
		CHECK(run(&st, f, sizeof(arp), &o) == SL_DROP, "arp from our address");
		memcpy(f + 28, "\xff\xff\xff\xff", 4);
		CHECK(run(&st, f, sizeof(arp), &o) == SL_DROP, "arp from 255.255.255.255");
	}

	/* configurations we refuse: no MAC, a group MAC, a group address */
	setup(1460, 0);
	bad = cfg;
	memset(bad.mac, 0, 6);
	CHECK(sl_config_finish(&bad) == -1, "zero MAC accepted");
	bad = cfg;
	bad.mac[0] = 1;
	CHECK(sl_config_finish(&bad) == -1, "group MAC accepted");
	bad = cfg;
	bad.addr = 0xe0000001;
	CHECK(sl_config_finish(&bad) == -1, "multicast address accepted");
	bad = cfg;
	bad.addr = 0;
	CHECK(sl_config_finish(&bad) == 0, "any refused");
}

/* ---- blind frames (PROTOCOL.md "Authentication") ---------------------------- */

static sl_u64 xs_state = 0x9e3779b97f4a7c15ull;

static sl_u32 xs32(void)
{
	xs_state ^= xs_state << 13;
	xs_state ^= xs_state >> 7;
	xs_state ^= xs_state << 17;
	return (sl_u32)(xs_state >> 16);
}

/* What blind frames of one kind got back. */
struct blind {
	unsigned long long frames, data, over2, rsts, bytes_in, bytes_out;
	unsigned int most;	/* most segments one frame released */
};

/*
 * n frames of one kind with a random unicast source, source port, sequence
 * and acknowledgement numbers, window and (with ts) TSval and TSecr: none
 * of them saw a SYN-ACK. Checksums are marked verified (sl_rx.flags) so
 * that the frames can be written fast; the core's answer is the same.
 */
static void blind_run(int kind, int ts, unsigned long long n, struct blind *b)
{
	static const char get[] = "GET /100000 HTTP/1.1\r\nHost: t\r\n\r\n";
	static sl_u8 f[128], out[SL_FRAME_MAX];
	struct sl_stats st = { 0 };
	struct sl_rx rx = { f, 0, SL_RX_IP_CSUM_OK | SL_RX_L4_CSUM_OK, 0 };
	struct sl_reply rp;
	struct sl_txinfo ti;
	sl_u32 thl = ts ? 32 : 20, plen = kind == 0 ? sizeof(get) - 1 : kind == 1 ? 1 : 0;
	sl_u8 *ip = f + 14, *th = ip + 20;
	unsigned long long i;
	sl_u32 now0 = xs32();

	memset(b, 0, sizeof(*b));
	memset(f, 0, sizeof(f));
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	ip[0] = 0x45;
	sl_wr16(ip + 2, (sl_u16)(20 + thl + plen));
	ip[8] = 64;
	ip[9] = 6;
	sl_wr32(ip + 16, cfg.addr);
	sl_wr16(th + 2, 80);
	th[12] = (sl_u8)((thl / 4) << 4);
	th[13] = SL_TH_ACK | (plen ? SL_TH_PSH : 0);
	if (ts)
		memcpy(th + 20, "\x01\x01\x08\x0a", 4);
	memcpy(th + thl, kind == 0 ? get : "x", plen);
	rx.len = 14 + 20 + thl + plen;
	for (i = 0; i < n; i++) {
		sl_u32 src, len;
		unsigned int segs = 0;
		int got_data = 0;

		do	/* a unicast source other than ours */
			src = xs32();
		while (!sl_addr_unicast(src) || src == cfg.addr);
		sl_wr32(ip + 12, src);
		sl_wr16(th, (sl_u16)xs32());
		sl_wr32(th + 4, xs32());
		sl_wr32(th + 8, xs32());
		sl_wr16(th + 14, (sl_u16)xs32());
		if (ts) {
			sl_wr32(th + 24, xs32());
			sl_wr32(th + 28, xs32());
		}
		rx.now = now0 + (sl_u32)(i / 1000);	/* a million frames a second */
		b->frames++;
		b->bytes_in += rx.len < 60 ? 60 : rx.len;
		if (sl_input(&cfg, &st, &rx, &rp) != SL_REPLY)
			continue;
		while ((len = sl_emit(&cfg, &st, &rp, out, sizeof(out), 0, &ti))) {
			sl_u32 tot = sl_rd16(out + 16), othl = (out[46] >> 4) * 4u;

			if (out[47] & SL_TH_RST) {
				b->rsts++;
				continue;
			}
			b->bytes_out += len < 60 ? 60 : len;
			if (tot - 20 - othl) {
				segs++;
				got_data = 1;
			}
		}
		b->data += got_data;
		b->over2 += segs > 2;
		if (segs > b->most)
			b->most = segs;
	}
}

/*
 * A count of events at rate lambda is above this with probability < 1e-6:
 * a measured count beyond it is not consistent with the bound. Poisson
 * tail summed exactly for small lambda (exp without libm: e^-x is
 * (e^-(x/64))^64, the inner one a short series), lambda + 5 sigma + 10 for
 * large lambda (above 5 sigma a Poisson tail is below 1e-6 there).
 */
static unsigned long long poisson_limit(double lambda)
{
	double x = lambda / 64, e = 1, t = 1, term, cdf;
	unsigned long long k;
	int m;

	if (lambda >= 50) {
		double r = lambda;

		for (m = 0; m < 60; m++)	/* sqrt by Newton */
			r = (r + lambda / r) / 2;
		return (unsigned long long)(lambda + 5 * r + 10);
	}
	for (m = 1; m < 30; m++) {
		t *= -x / m;
		e += t;
	}
	for (m = 0; m < 6; m++)
		e *= e;			/* e^-lambda */
	term = e;
	cdf = e;
	for (k = 0; 1 - cdf >= 1e-6; k++) {
		term *= lambda / (double)(k + 1);
		cdf += term;
	}
	return k;
}

/*
 * The spoofing bounds of PROTOCOL.md, measured. SL_BLIND_FRAMES (default
 * 300000) frames per kind; `make -C slhttpd blind` runs 1e8.
 */
static void test_blind(void)
{
	static const char *const kinds[] = { "ACK+GET", "ACK+1 byte", "pure ACK" };
	const char *env = getenv("SL_BLIND_FRAMES");
	unsigned long long n = env ? strtoull(env, NULL, 10) : 300000;
	int kind, ts;

	setup(1460, 0);
	cfg.rst_limit = 1000;
	for (ts = 1; ts >= 0; ts--) {
		for (kind = 0; kind < 3; kind++) {
			struct blind b;
			double ratio;

			blind_run(kind, ts, n, &b);
			ratio = (double)b.bytes_out / (double)b.bytes_in;
			printf("blind %-10s %s: %llu frames, data %llu (%.2e), >2 segments %llu "
			       "(%.2e), most %u, rst %llu, reply bytes per byte %.4f\n",
			       kinds[kind], ts ? "ts   " : "no ts", b.frames, b.data,
			       (double)b.data / (double)b.frames, b.over2,
			       (double)b.over2 / (double)b.frames, b.most, b.rsts, ratio);
			if (ts)
				CHECK(b.data <= poisson_limit(1e-7 * (double)n),
				      "%s with timestamps: %llu of %llu got data", kinds[kind],
				      b.data, n);
			else
				CHECK(b.over2 <= poisson_limit(2e-5 * (double)n),
				      "%s: %llu of %llu released > 2 segments", kinds[kind],
				      b.over2, n);
			CHECK(b.most <= (ts ? SL_BURST_STALE : SL_BURST_PLAIN),
			      "%s: one frame released %u segments", kinds[kind], b.most);
			CHECK(ratio <= 0.1, "%s: %.3f reply bytes per spoofed byte", kinds[kind],
			      ratio);
			CHECK(b.rsts <= ((n + 999) / 1000000 + 2) * cfg.rst_limit,
			      "%s: %llu RSTs in %llu ms", kinds[kind], b.rsts, n / 1000);
		}
	}
}

/* Data segments in a burst. */
static int data_segs(const struct out *o)
{
	int i, n = 0;

	for (i = 0; i < o->n; i++) {
		const sl_u8 *th = o->fr[i] + 34;

		if (sl_rd16(o->fr[i] + 16) - 20 - (th[12] >> 4) * 4u)
			n++;
	}
	return n;
}

/*
 * A fresh client (10.77.0.2:port, MSS 1460, timestamps if ts, its clock at
 * `clock`) after its handshake: the SYN-ACK fed to it.
 */
static void handshake(struct client *cl, struct sl_stats *st, sl_u16 port,
		      sl_u32 snd_nxt, int ts, sl_u32 clock)
{
	static struct out o;
	sl_u8 f[SL_FRAME_MAX + 64];
	int rst = 0;
	size_t n;

	memset(cl, 0, sizeof(*cl));
	cl->addr = 0x0a4d0002;
	cl->port = port;
	cl->sport = 80;
	cl->snd_nxt = snd_nxt;
	cl->mss = 1460;
	cl->ts = ts;
	cl->clock = clock;
	n = mkframe(f, cl, SL_TH_SYN, cl->snd_nxt - 1, 0, 65535, "", 0, 1);
	run(st, f, n, &o);
	client_rx(cl, &o, &rst);
	CHECK(o.n == 1 && cl->rcv_nxt && !rst, "handshake: %d frames", o.n);
}

/*
 * Bounded bursts (PROTOCOL.md): one frame releases more than SL_BURST_PLAIN
 * segments only with an echo at most 2 s old; a frame replayed 5 s later
 * releases at most SL_BURST_STALE; an echo older than the PAWS limit gets an
 * RST; a client back from idle gets small bursts, then the window again.
 */
static void test_replay(void)
{
	static struct client cl;
	static struct out o;
	static sl_u8 req[SL_FRAME_MAX + 64], ack[SL_FRAME_MAX + 64];
	struct sl_stats st = { 0 };
	const char *g = "GET /100000 HTTP/1.1\r\n\r\n";
	sl_u32 glen = (sl_u32)strlen(g), t0 = 123456789, age, first_rcv;
	size_t nreq, nack, n;
	int rst = 0, segs, fresh_max = 0;

	setup(1460, 0);
	now_ms = t0;
	handshake(&cl, &st, 4444, 9000, 1, 77);
	cl.reqlen = glen;
	/* the request, and an ACK of the first two segments of its answer */
	nreq = mkframe(req, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, 65535, g, glen, 0);
	now_ms = t0 + 50;
	run(&st, req, nreq, &o);
	segs = data_segs(&o);
	CHECK(segs > SL_BURST_PLAIN, "fresh request: %d segments", segs);
	first_rcv = cl.rcv_nxt;
	client_rx(&cl, &o, &rst);
	client_tick(&cl);
	nack = mkframe(ack, &cl, SL_TH_ACK, cl.snd_nxt + glen, cl.rcv_nxt, 65535, "", 0, 0);
	CHECK(cl.rcv_nxt - first_rcv > 10000, "response arrived: %u", cl.rcv_nxt - first_rcv);

	/* the same two frames again, older and older */
	for (age = 0; age <= 120000; age += age < 10000 ? 100 : 10000) {
		int r;

		for (r = 0; r < 2; r++) {
			now_ms = t0 + 50 + age;
			run(&st, r ? ack : req, r ? nack : nreq, &o);
			segs = data_segs(&o);
			if (segs > SL_BURST_PLAIN) {
				CHECK(age <= 2000, "%s replayed after %u ms: %d segments",
				      r ? "ACK" : "request", age, segs);
				if ((int)age > fresh_max)
					fresh_max = (int)age;
			}
			if (age >= 5000)
				CHECK(segs <= SL_BURST_STALE, "%s replayed after %u ms: %d segments",
				      r ? "ACK" : "request", age, segs);
			/* past the PAWS limit: the request gets an RST, the ACK nothing */
			if (age >= 110000)
				CHECK(r ? o.n == 0 : o.n == 1 && (o.fr[0][47] & SL_TH_RST),
				      "%s with an echo %u ms old: %d frames", r ? "ACK" : "request",
				      age, o.n);
		}
	}
	CHECK(fresh_max >= 1000, "a fresh echo stopped working after %d ms", fresh_max);
	printf("replay: whole window up to %d ms, %u segments at most after 5 s\n", fresh_max,
	       SL_BURST_STALE);

	/* back from 30 s idle: a small burst, then the ACK's fresh echo opens the window */
	now_ms = t0 + 30000;
	cl.snd_nxt += glen;
	client_tick(&cl);
	n = mkframe(req, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, 65535, g, glen, 0);
	run(&st, req, n, &o);
	segs = data_segs(&o);
	CHECK(segs >= 1 && segs <= SL_BURST_STALE, "request after idle: %d segments", segs);
	client_rx(&cl, &o, &rst);
	client_tick(&cl);
	n = mkframe(ack, &cl, SL_TH_ACK, cl.snd_nxt + glen, cl.rcv_nxt, 65535, "", 0, 0);
	run(&st, ack, n, &o);
	CHECK(data_segs(&o) > SL_BURST_PLAIN, "ACK with a fresh echo after idle: %d segments",
	      data_segs(&o));
	CHECK(!rst, "rst");
}

/* The sequence number of data segment i of a burst (-1u: fewer segments). */
static sl_u32 seg_seq(const struct out *o, int i)
{
	int k, n = 0;

	for (k = 0; k < o->n; k++) {
		const sl_u8 *th = o->fr[k] + 34;

		if (sl_rd16(o->fr[k] + 16) - 20 - (th[12] >> 4) * 4u && n++ == i)
			return sl_rd32(th + 4);
	}
	return ~0u;
}

/*
 * The sender cache (PROTOCOL.md): with the connection's entry, an ACK sends
 * what its window newly allows and nothing twice; the copies of one ACK that
 * a client sends for every segment arriving out of order or twice get one
 * segment (the first copy) and then nothing. Without the entry, the stateless
 * rules answer every copy again: what made storms of duplicates.
 */
static void test_sender_cache(void)
{
	static struct client cl;
	static struct out o;
	static struct sl_answered table[1024];
	struct sl_stats st;
	const char *g = "GET /131072 HTTP/1.1\r\n\r\n";
	sl_u8 f[SL_FRAME_MAX + 64];
	sl_u32 glen = (sl_u32)strlen(g), a2, a4, end, m;
	int rst = 0, pass, i, dup_segs;
	size_t n;

	for (pass = 1; pass >= 0; pass--) {
		memset(&st, 0, sizeof(st));
		setup(1460, 0);
		memset(table, 0, sizeof(table));
		if (pass) {
			cfg.answered = table;
			cfg.answered_mask = 1023;
			/* the whole window in the first flight: the slide below
			 * (test_first_flight has the initial window) */
			cfg.first_flight = 0;
		}
		now_ms = 5000000;
		handshake(&cl, &st, 4323, 7000, 1, 100);
		cl.reqlen = glen;
		/* a window of 12 segments of 1443 bytes (MSS 1448 with timestamps) */
		m = 1443;
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, 12 * 1443, g,
			    glen, 0);
		run(&st, f, n, &o);
		CHECK(data_segs(&o) == 12, "first flight: %d segments", data_segs(&o));
		a2 = seg_seq(&o, 2);
		a4 = seg_seq(&o, 4);
		end = seg_seq(&o, 11) + m;
		client_rx(&cl, &o, &rst);
		/* the first two segments acknowledged: two more at the window's edge */
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, a2, 12 * 1443, "", 0, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(data_segs(&o) == 2 && seg_seq(&o, 0) == end &&
			      seg_seq(&o, 1) == end + m, "ACK of 2 segments: %d segments from %u",
			      data_segs(&o), seg_seq(&o, 0) - end);
		/* two more acknowledged, the window two smaller (the reader is slow):
		 * its edge did not move, nothing is new */
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, a4, 10 * 1443, "", 0, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(data_segs(&o) == 0, "window shrunk as the ack moved: %d segments",
			      data_segs(&o));
		/* a window update, the same ack: three segments more, the new ones */
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, a4, 13 * 1443, "", 0, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(data_segs(&o) == 3 && seg_seq(&o, 0) == end + 2 * m,
			      "window update: %d segments from %u", data_segs(&o),
			      seg_seq(&o, 0) - end);
		/* its copies: the 1st, 3rd and 7th resend the segment at the ack,
		 * the others nothing */
		dup_segs = 0;
		for (i = 1; i <= 8; i++) {
			run(&st, f, n, &o);
			dup_segs += data_segs(&o);
			if (pass)
				CHECK(data_segs(&o) == (i == 1 || i == 3 || i == 7) &&
				      (!data_segs(&o) || seg_seq(&o, 0) == a4),
				      "duplicate ACK %d: %d segments", i, data_segs(&o));
		}
		if (pass)
			CHECK(dup_segs == 3 && st.c[SL_C_DUP_ACK] == 5 &&
			      st.c[SL_C_FAST_RETRANS] == 3, "8 duplicate ACKs: %d segments",
			      dup_segs);
		printf("8 copies of one ACK %s the sender cache: %d segments\n",
		       pass ? "with" : "without", dup_segs);
		if (!pass)
			CHECK(dup_segs >= 8, "the stateless rules answer every copy: %d", dup_segs);
		/* a partial ACK after the fast retransmit: the next hole is resent */
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, a4 + m, 13 * 1443, "", 0, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(data_segs(&o) == 1 && seg_seq(&o, 0) == a4 + m,
			      "partial ACK in recovery: %d segments at %u", data_segs(&o),
			      seg_seq(&o, 0) - a4);
		CHECK(!rst, "rst");
	}
}

/*
 * The first flight (PROTOCOL.md "The sender cache"): with the response in the
 * sender cache, a request with a fresh echo gets cfg.first_flight segments
 * (RFC 6928's 10), and the client's first ACK the rest of its window, each
 * segment once; without the table (the stateless rules: they release the
 * window's right edge) the whole burst. The whole response arrives either way.
 */
static void test_first_flight(void)
{
	static struct client cl;
	static struct out o;
	static struct sl_answered table[1024];
	struct sl_stats st;
	const char *g = "GET /131072 HTTP/1.1\r\n\r\n";
	sl_u8 f[SL_FRAME_MAX + 64];
	sl_u32 glen = (sl_u32)strlen(g), m = 1443, first, a2;
	int rst = 0, pass, rounds;
	char *hdr_end;
	size_t n;

	for (pass = 0; pass < 3; pass++) {
		memset(&st, 0, sizeof(st));
		setup(1460, 0);
		memset(table, 0, sizeof(table));
		if (pass) {
			cfg.answered = table;
			cfg.answered_mask = 1023;
		}
		if (pass == 2)
			cfg.first_flight = 4;
		CHECK(cfg.first_flight == (pass == 2 ? 4 : SL_FIRST_FLIGHT_DEFAULT),
		      "first_flight %u", cfg.first_flight);
		now_ms = 7000000;
		handshake(&cl, &st, 4325 + pass, 7000, 1, 100);
		cl.reqlen = glen;
		client_tick(&cl);
		/* a window of 40 segments */
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, 40 * m, g, glen, 0);
		run(&st, f, n, &o);
		first = (sl_u32)data_segs(&o);
		CHECK(first == (pass == 0 ? 40 : pass == 1 ? SL_FIRST_FLIGHT_DEFAULT : 4),
		      "first flight, pass %d: %u segments", pass, first);
		a2 = seg_seq(&o, 2);
		client_rx(&cl, &o, &rst);
		/* the first two acknowledged: the window's rest, from the flight's end */
		client_tick(&cl);
		n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, a2, 40 * m, "", 0, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(data_segs(&o) == (int)(40 + 2 - first) &&
			      seg_seq(&o, 0) == a2 + (first - 2) * m,
			      "ACK of 2 after a first flight of %u: %d segments", first,
			      data_segs(&o));
		client_rx(&cl, &o, &rst);
		/* then ACKs of everything received until the response is complete */
		for (rounds = 0; rounds < 20 && data_segs(&o); rounds++) {
			client_tick(&cl);
			n = mkframe(f, &cl, SL_TH_ACK, cl.snd_nxt + glen, cl.rcv_nxt, 40 * m, "",
				    0, 0);
			run(&st, f, n, &o);
			client_rx(&cl, &o, &rst);
		}
		hdr_end = memmem(cl.data, cl.len, "\r\n\r\n", 4);
		CHECK(hdr_end && !rst && cl.len == (sl_u32)(hdr_end + 4 - (char *)cl.data) + 131072 &&
		      expect_body_ok((unsigned char *)hdr_end + 4, 131072) == NULL,
		      "pass %d: %u bytes after %d ACKs", pass, cl.len, rounds);
	}
	setup(1460, 0);
	cfg.first_flight = SL_BURST_MAX + 1;
	CHECK(sl_config_finish(&cfg) < 0, "first_flight above SL_BURST_MAX accepted");
}

/* A request retransmitted after its whole response arrived gets an ACK, not a second copy. */
static void test_answered_filter(void)
{
	static struct client cl;
	static struct out o;
	static struct sl_answered table[1024];
	struct sl_stats st = { 0 };
	const char *g = "GET /5000 HTTP/1.1\r\n\r\n";
	sl_u8 f[SL_FRAME_MAX + 64];
	sl_u32 glen = (sl_u32)strlen(g), end;
	int rst = 0, pass;
	size_t n;

	for (pass = 0; pass < 2; pass++) {
		setup(1460, 0);
		if (pass) {
			cfg.answered = table;
			cfg.answered_mask = 1023;
		}
		handshake(&cl, &st, 4321, 7000, 0, 0);
		cl.reqlen = glen;
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, cl.rcv_nxt, 65535, g, glen, 0);
		run(&st, f, n, &o);
		client_rx(&cl, &o, &rst);
		end = cl.rcv_nxt;
		CHECK(o.n == 4 && cl.len > 5000, "response: %d frames, %u bytes", o.n, cl.len);
		/* the same request again, acknowledging the whole response */
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt, end, 65535, g, glen, 0);
		run(&st, f, n, &o);
		if (pass)
			CHECK(o.n == 1 && sl_rd16(o.fr[0] + 16) == 40 &&
			      sl_rd32(o.fr[0] + 42) == cl.snd_nxt + glen && st.c[SL_C_DUP_REQ] == 1,
			      "retransmitted request: %d frames", o.n);
		else
			CHECK(o.n == 4, "without the filter the request is answered again");
		/* the next request is answered */
		n = mkframe(f, &cl, SL_TH_ACK | SL_TH_PSH, cl.snd_nxt + glen, end, 65535, g, glen, 0);
		run(&st, f, n, &o);
		CHECK(o.n == 4, "next request: %d frames", o.n);
	}
}

int main(void)
{
	if (getenv("SL_BLIND_ONLY")) {	/* make -C slhttpd blind */
		test_blind();
		printf("%lu passed, %lu failed\n", n_pass, n_fail);
		return n_fail ? 1 : 0;
	}
	test_classes();
	test_requests();
	test_parser_reference();
	test_ports();
	test_layout_all_sizes();
	test_truncations();
	test_addressing();
	test_blind();
	test_replay();
	test_cookie();
	test_csum_body();
	test_answered_filter();
	test_sender_cache();
	test_first_flight();
	test_conversations(1);
	sim_ts = 1;
	test_conversations(1);
	test_conversations(0);
	printf("%lu passed, %lu failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
