// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core: one received frame in, a verdict and a reply plan out.
 * The state machine is described in slhttpd/PROTOCOL.md.
 */
#include "sl_internal.h"

#define SL_ETH_HLEN	14
#define SL_ETH_P_IP	0x0800
#define SL_ETH_P_ARP	0x0806
#define SL_IPPROTO_ICMP	1
#define SL_IPPROTO_TCP	6
#define SL_DEFAULT_MSS	536	/* RFC 9293: MSS when the SYN has none */

/* A validated view of a received TCP/IPv4 frame. */
struct sl_pkt {
	const sl_u8 *eth;
	const sl_u8 *ip;
	const sl_u8 *tcp;
	const sl_u8 *payload;
	sl_u32 ihl, thl, plen;
	sl_u32 saddr, daddr;
	sl_u16 sport, dport, win;
	sl_u32 seq, ack;
	sl_u8 flags;
	sl_u8 ts;		/* carries a timestamp option */
	sl_u32 tsval, tsecr;
	sl_u32 mss;		/* MSS option (SYN), else SL_DEFAULT_MSS */
	sl_u32 now;		/* sl_rx.now */
};

/* What a timestamp echo proves (PROTOCOL.md "Authentication"). */
enum sl_echo {
	SL_ECHO_NONE,	/* no timestamp option */
	SL_ECHO_BAD,	/* not a TSval of ours for this connection, or too old */
	SL_ECHO_STALE,	/* ours, older than SL_TS_FRESH_TICKS */
	SL_ECHO_FRESH,	/* ours and fresh */
};

/* Where an acknowledgement number puts us (see PROTOCOL.md). */
enum sl_where {
	SL_W_REQ,	/* keep-alive request state */
	SL_W_BODY,	/* mid-response: j full body segments remain */
	SL_W_CLOSE_END,	/* close mode, data ended here */
	SL_W_SPLIT,	/* head part split point i */
	SL_W_FIN_KA,
	SL_W_FIN_CL,
	SL_W_BAD,
};

struct sl_state {
	sl_u32 h;	/* connection hash (cookie) */
	sl_u32 pos;	/* position: seq - base */
	sl_u16 seg;	/* segment size of the class */
	sl_u8 cls;
	sl_u8 tclose;
	enum sl_where where;
	sl_u8 mode;
	sl_u32 j;	/* SL_W_BODY: segments left; SL_W_SPLIT: index */
	enum sl_echo echo;	/* what the timestamp echo proves */
	sl_s32 delta;	/* SL_ECHO_FRESH: echoed edge - ack, in units */
	sl_u32 burst;	/* segments this frame may release */
};

static void sl_count(struct sl_stats *st, enum sl_counter c)
{
	st->c[c]++;
}

/* The client's window as we use it: at most `burst` segments. */
static sl_u32 sl_window(const struct sl_pkt *pk, sl_u16 seg, sl_u32 burst)
{
	sl_u32 cap = burst * seg;

	return pk->win < cap ? pk->win : cap;
}

/* ---- timestamps: our clock and its MAC ------------------------------- */

#define SL_TICK_MASK	((1u << (32 - SL_TS_TICK_SHIFT)) - 1)
#define SL_TS_T9_MASK	((1u << SL_TS_TICK_BITS) - 1)
/* Units of the edge in a TSval: segments, via a reciprocal (no division). */
#define SL_TS_EDGE_BITS	(16 - SL_TS_TICK_BITS)
#define SL_TS_EDGE_HALF	(1 << (SL_TS_EDGE_BITS - 1))

static sl_u32 sl_units(const struct sl_config *cfg, int cls, sl_u32 pos)
{
	return (sl_u32)(((sl_u64)pos * cfg->cls_recip[cls]) >> 32);
}

/*
 * Our TSval: the high 16 bits are a clock, tick * 2^7 + edge (the window
 * edge in segments), which never goes back on a connection (PAWS); the low
 * 16 bits are a MAC of the 4-tuple, the whole tick and that clock.
 */
static sl_u32 sl_tsval(const struct sl_config *cfg, const struct sl_pkt *pk,
		       sl_u32 edge_units)
{
	sl_u32 tick = (pk->now >> SL_TS_TICK_SHIFT) & SL_TICK_MASK;
	sl_u16 clock = (sl_u16)((tick << SL_TS_EDGE_BITS) + edge_units);

	return ((sl_u32)clock << 16) |
	       sl_ts_mac(cfg->secret, pk->saddr, pk->daddr, pk->sport,
			 pk->dport, tick, clock);
}

/*
 * Check the client's echo (TSecr) against the acknowledged position: the
 * echoed edge is within 2^6 segments of it, which gives back the tick's low
 * bits; its age gives the whole tick, and the MAC must match.
 */
static void sl_echo(const struct sl_config *cfg, const struct sl_pkt *pk,
		    struct sl_state *s)
{
	sl_u32 now = (pk->now >> SL_TS_TICK_SHIFT) & SL_TICK_MASK;
	sl_u32 clock = pk->tsecr >> 16, x, age, tick;

	s->echo = SL_ECHO_NONE;
	s->delta = 0;
	if (!pk->ts)
		return;
	x = (clock - sl_units(cfg, s->cls, s->pos) + SL_TS_EDGE_HALF) & 0xffff;
	age = (now - (x >> SL_TS_EDGE_BITS)) & SL_TS_T9_MASK;
	tick = (now - age) & SL_TICK_MASK;
	s->echo = SL_ECHO_BAD;
	if (age >= SL_TS_PAWS_TICKS ||
	    sl_ts_mac(cfg->secret, pk->saddr, pk->daddr, pk->sport, pk->dport,
		      tick, (sl_u16)clock) != (pk->tsecr & 0xffff))
		return;
	s->delta = (sl_s32)(x & ((1u << SL_TS_EDGE_BITS) - 1)) - SL_TS_EDGE_HALF;
	s->echo = age <= SL_TS_FRESH_TICKS ? SL_ECHO_FRESH : SL_ECHO_STALE;
}

/* Segments a frame may release: its burst, or less for a retransmission. */
static sl_u32 sl_burst(const struct sl_state *s, int retrans)
{
	if (s->echo == SL_ECHO_FRESH)
		return SL_BURST_MAX;
	if (retrans)
		return SL_BURST_RESEND;
	return s->echo == SL_ECHO_NONE ? SL_BURST_PLAIN : SL_BURST_STALE;
}

static const sl_u8 sl_mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int sl_mac_is(const sl_u8 *a, const sl_u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
}

static sl_u32 sl_base(sl_u32 h, int cls)
{
	return (h & ~SL_STATE_MASK) ^ ((sl_u32)cls << 29);
}

static int sl_class_for(const struct sl_config *cfg, sl_u32 mss)
{
	int c;

	if (mss > cfg->mss)
		mss = cfg->mss;
	for (c = SL_CLASSES - 1; c > 0; c--)
		if (cfg->cls_mss[c] <= mss)
			return c;
	return 0;
}

/* Decode the acknowledgement number; 0, or -1 without a valid cookie. */
static int sl_decode(const struct sl_config *cfg, const struct sl_pkt *pk,
		     struct sl_state *s)
{
	sl_u32 h = sl_cookie(cfg->secret, pk->saddr, pk->daddr, pk->sport,
			     pk->dport);
	sl_u32 t, tc;
	int c;

	s->h = h;
	for (c = 0; c < SL_CLASSES; c++) {
		s->pos = pk->ack - sl_base(h, c);
		if (s->pos >= SL_R0 && s->pos < SL_CONN_SPAN)
			break;
	}
	if (c == SL_CLASSES)
		return -1;
	s->cls = (sl_u8)c;
	s->seg = cfg->cls_seg[c];
	tc = cfg->cls_tclose[c];
	s->tclose = (sl_u8)tc;
	t = ((SL_R0 - s->pos) * cfg->cls_inv[c]) & SL_STATE_MASK;
	s->j = 0;
	s->mode = SL_MODE_KEEPALIVE;
	if (t == 0) {
		s->where = SL_W_REQ;
	} else if (t <= SL_MAX_SEGS) {
		s->where = SL_W_BODY;
		s->j = t;
	} else if (t == tc) {
		s->where = SL_W_CLOSE_END;
		s->mode = SL_MODE_CLOSE;
	} else if (t > tc && t <= tc + SL_MAX_SEGS) {
		s->where = SL_W_BODY;
		s->mode = SL_MODE_CLOSE;
		s->j = t - tc;
	} else if (t >= SL_STATES - SL_HEAD_SPLITS) {
		s->where = SL_W_SPLIT;
		s->j = SL_STATES - t;
	} else if (t == cfg->cls_tfin_ka[c]) {
		s->where = SL_W_FIN_KA;
	} else if (t == cfg->cls_tfin_cl[c]) {
		s->where = SL_W_FIN_CL;
		s->mode = SL_MODE_CLOSE;
	} else {
		s->where = SL_W_BAD;
	}
	return 0;
}

/*
 * May we answer this sender at all? A unicast Ethernet source, a unicast
 * IPv4 source that is not our own address (the destination: it is ours).
 * Anything else is a spoofed or looped frame: a reply would go to a group,
 * to ourselves, or nowhere.
 */
static int sl_peer_ok(const struct sl_pkt *pk)
{
	return !(pk->eth[6] & 1) && sl_addr_unicast(pk->saddr) &&
	       pk->saddr != pk->daddr;
}

static void sl_reply_addr(struct sl_reply *rp, const struct sl_pkt *pk)
{
	sl_copy(rp->eth_dst, pk->eth + 6, 6);
	rp->saddr = pk->daddr;
	rp->daddr = pk->saddr;
	rp->sport = pk->dport;
	rp->dport = pk->sport;
}

static enum sl_verdict sl_ctl(struct sl_stats *st, struct sl_reply *rp,
			      sl_u32 seq, sl_u32 ack, sl_u8 flags)
{
	rp->kind = SL_K_CTL;
	rp->seq = seq;
	rp->ack = ack;
	rp->tcp_flags = flags;
	if (flags & SL_TH_RST)
		sl_count(st, SL_C_RST_SENT);
	return SL_REPLY;
}

static enum sl_verdict sl_rst(struct sl_stats *st, struct sl_reply *rp,
			      const struct sl_pkt *pk)
{
	return sl_ctl(st, rp, pk->ack, 0, SL_TH_RST);
}

/*
 * An RST to a frame anyone could have sent blind (no valid cookie, an
 * unknown state, a bad echo): at most cfg->rst_limit per second, so that
 * a spoofed flood is not reflected one for one.
 */
static enum sl_verdict sl_rst_blind(const struct sl_config *cfg,
				    struct sl_stats *st, struct sl_reply *rp,
				    const struct sl_pkt *pk)
{
	sl_u32 second = pk->now >> 10;

	if (st->rst_second != second) {
		st->rst_second = second;
		st->rst_count = 0;
	}
	if (st->rst_count >= cfg->rst_limit) {
		sl_count(st, SL_C_RST_LIMITED);
		rp->kind = SL_K_NONE;
		return SL_DROP;
	}
	st->rst_count++;
	return sl_rst(st, rp, pk);
}

/* ---- responses ---------------------------------------------------- */

/* Append the n bytes of s (a literal: n is a constant). */
static sl_u32 sl_put(sl_u8 *dst, sl_u32 at, const char *s, sl_u32 n)
{
	sl_copy(dst + at, (const sl_u8 *)s, n);
	return at + n;
}

#define SL_PUT(dst, at, lit)	sl_put(dst, at, lit, sizeof(lit) - 1)

static sl_u32 sl_put_u32(sl_u8 *dst, sl_u32 at, sl_u32 v)
{
	sl_u8 tmp[10];
	int n = 0;

	do {
		tmp[n++] = (sl_u8)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		dst[at++] = tmp[--n];
	return at;
}

/* A status line (with its extra headers) and an error body. */
struct sl_text {
	const char *s;
	sl_u8 n;
};

#define SL_TEXT(lit)	{ lit, sizeof(lit) - 1 }

static const struct sl_text sl_status_lines[] = {
	SL_TEXT("HTTP/1.1 200 OK\r\n"),
	SL_TEXT("HTTP/1.1 400 Bad Request\r\n"),
	SL_TEXT("HTTP/1.1 404 Not Found\r\n"),
	SL_TEXT("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"),
	SL_TEXT("HTTP/1.1 413 Content Too Large\r\n"),
};

static const struct sl_text sl_status_bodies[] = {
	SL_TEXT(""),
	SL_TEXT("bad request\n"),
	SL_TEXT("not found\n"),
	SL_TEXT("use GET or HEAD\n"),
	SL_TEXT("object too large\n"),
};

static int sl_status_index(sl_u16 status)
{
	switch (status) {
	case 200:
		return 0;
	case 404:
		return 2;
	case 405:
		return 3;
	case 413:
		return 4;
	default:
		return 1;
	}
}

#define SL_X16	"xxxxxxxxxxxxxxxx"
#define SL_X64	SL_X16 SL_X16 SL_X16 SL_X16
/* X-Pad's value: up to 255 'x' in one copy */
static const char sl_pad[256] = SL_X64 SL_X64 SL_X64 SL_X16 SL_X16 SL_X16 "xxxxxxxxxxxxxxx";

/*
 * Lay out a response: headers (padded so that its end lands on the mode's
 * end state), body, and the segmentation. Returns 0, or -1 if it does not
 * fit the state space for this segment size.
 */
static int sl_layout(struct sl_reply *rp,
		     sl_u16 status, sl_u32 body, sl_u8 head, sl_u8 mode,
		     sl_u16 seg, sl_u8 tclose)
{
	int si = sl_status_index(status);
	const struct sl_text *line = &sl_status_lines[si];
	const struct sl_text *ebody = &sl_status_bodies[si];
	sl_u32 elen = ebody->n;
	sl_u32 clen = status == 200 ? body : elen;
	sl_u32 send_body = (status == 200 && !head) ? body : 0;
	sl_u32 at, base, target, pad, len, n, pieces;

	/* at most 51 + 16 + 10 + 39 + 10 + 9 + 255 + 4 + 16 < SL_RESP_HDR_MAX */
	at = sl_put(rp->hdr, 0, line->s, line->n);
	at = SL_PUT(rp->hdr, at, "Content-Length: ");
	at = sl_put_u32(rp->hdr, at, clen);
	at = SL_PUT(rp->hdr, at, "\r\nContent-Type: text/plain\r\nConnection: ");
	if (mode == SL_MODE_CLOSE)
		at = SL_PUT(rp->hdr, at, "close");
	else
		at = SL_PUT(rp->hdr, at, "keep-alive");
	at = SL_PUT(rp->hdr, at, "\r\nX-Pad: ");
	/* what follows the pad: "\r\n\r\n", the error text, the body */
	base = at + 4 + (head ? 0 : (status == 200 ? 0 : elen)) + send_body;
	target = mode == SL_MODE_CLOSE ? (0u - (sl_u32)tclose * seg) : 0u;
	pad = (target - base) & SL_STATE_MASK;
	at = sl_put(rp->hdr, at, sl_pad, pad);
	at = SL_PUT(rp->hdr, at, "\r\n\r\n");
	if (status != 200 && !head)
		at = sl_put(rp->hdr, at, ebody->s, elen);

	len = at + send_body;
	n = send_body / seg;
	rp->hdr_len = (sl_u16)at;
	rp->resp_len = len;
	rp->head_len = len - n * seg;
	rp->body = send_body;
	rp->seg = seg;
	rp->fin = mode == SL_MODE_CLOSE;
	pieces = (rp->head_len + seg - 1) / seg;
	if (n > SL_MAX_SEGS || pieces > SL_HEAD_SPLITS)
		return -1;
	return 0;
}

/* End distance of the segment starting at distance cur from the end. */
static sl_u32 sl_next_end(const struct sl_reply *rp, sl_u32 cur)
{
	sl_u32 off, end;

	if (rp->resp_len && cur > rp->resp_len - rp->head_len) {
		off = rp->resp_len - cur;
		end = (off / rp->seg + 1) * rp->seg;
		if (end > rp->head_len)
			end = rp->head_len;
		return rp->resp_len - end;
	}
	return cur > rp->seg ? cur - rp->seg : 0;
}

/*
 * Emit from distance cur the whole segments that end within the window:
 * end distance >= lim (lim <= 0: up to the end).
 */
static enum sl_verdict sl_send_from(struct sl_stats *st, struct sl_reply *rp,
				    sl_u32 cur, sl_s32 lim)
{
	rp->kind = SL_K_RESP;
	rp->cur = cur;
	rp->stop = lim > 0 ? (sl_u32)lim : 0;
	if (cur == 0 || (sl_s32)sl_next_end(rp, cur) < lim) {
		sl_count(st, SL_C_DROP_WINDOW);
		rp->kind = SL_K_NONE;
		return SL_DROP;
	}
	return SL_REPLY;
}

static struct sl_answered *sl_answered_slot(const struct sl_config *cfg,
					    sl_u32 h)
{
	return &cfg->answered[(h ^ (h >> 16)) & cfg->answered_mask];
}

static void sl_answered_put(const struct sl_config *cfg, sl_u32 h,
			    sl_u32 req_end, sl_u32 resp_end)
{
	struct sl_answered *a = sl_answered_slot(cfg, h);

	a->key = h | 1;
	a->req_end = req_end;
	a->resp_end = resp_end;
}

/* Did we answer the request ending at req_end with a response ending at resp_end? */
static int sl_answered_match(const struct sl_config *cfg, sl_u32 h,
			     sl_u32 req_end, sl_u32 resp_end)
{
	const struct sl_answered *a;

	if (!cfg->answered)
		return 0;
	a = sl_answered_slot(cfg, h);
	return a->key == (h | 1) && a->req_end == req_end &&
	       a->resp_end == resp_end;
}

static enum sl_verdict sl_request(const struct sl_config *cfg,
				  struct sl_stats *st,
				  const struct sl_pkt *pk,
				  const struct sl_state *s,
				  struct sl_reply *rp)
{
	struct sl_request req;
	sl_u8 mode;
	sl_u32 p0, cur;
	int retrans = s->where != SL_W_REQ;

	if (sl_parse_request(cfg, pk->payload, pk->plen, &req) < 0) {
		req.status = 400;
		req.complete = 0;
	}
	mode = req.mode;
	if (req.status != 200 || (pk->flags & SL_TH_FIN))
		mode = SL_MODE_CLOSE;
	if (!req.complete && req.status != 400) {
		mode = SL_MODE_CLOSE;
		if (!retrans)
			sl_count(st, SL_C_SPLIT);
	}
	if (req.pipelined) {
		mode = SL_MODE_CLOSE;
		if (!retrans)
			sl_count(st, SL_C_PIPELINED);
	}
	if (s->pos > SL_CONN_SPAN - 2 * SL_BODY_LIMIT)
		mode = SL_MODE_CLOSE;
	if (sl_layout(rp, req.status, req.body, req.head, mode, s->seg,
		      s->tclose)) {
		/* too large for the state space at this client's MSS */
		req.status = 413;
		if (!retrans)
			mode = SL_MODE_CLOSE;
		if (sl_layout(rp, 413, 0, req.head, mode, s->seg, s->tclose))
			return sl_rst_blind(cfg, st, rp, pk);
	}

	/* where the response starts and which byte the client wants next */
	if (s->where == SL_W_REQ) {
		p0 = pk->ack;
		cur = rp->resp_len;
	} else {	/* SL_W_SPLIT: a head piece was lost */
		if (s->j * s->seg >= rp->head_len)
			return sl_rst_blind(cfg, st, rp, pk);
		p0 = pk->ack - s->j * s->seg;
		cur = rp->resp_len - s->j * s->seg;
	}
	rp->end_seq = p0 + rp->resp_len;
	/*
	 * The request stays unacknowledged while segments of its response may
	 * be lost: the client's retransmission is our loss recovery. A
	 * response of one segment either arrives whole or not at all: that
	 * segment acknowledges the request (and a FIN that came with it).
	 */
	rp->ack = pk->seq;
	rp->ack_last = pk->seq;
	if (s->where == SL_W_REQ && rp->resp_len <= rp->seg)
		rp->ack_last = pk->seq + pk->plen + ((pk->flags & SL_TH_FIN) ? 1 : 0);
	else if (s->where == SL_W_REQ && cfg->answered)
		sl_answered_put(cfg, s->h, pk->seq + pk->plen, rp->end_seq);

	if (!retrans) {
		switch (req.status) {
		case 200:
			sl_count(st, mode == SL_MODE_CLOSE ?
				 SL_C_REQ_CLOSE : SL_C_REQ_KEEPALIVE);
			if (req.head)
				sl_count(st, SL_C_HEAD);
			break;
		case 404:
			sl_count(st, SL_C_ERR_404);
			break;
		case 405:
			sl_count(st, SL_C_ERR_405);
			break;
		case 413:
			sl_count(st, SL_C_ERR_413);
			break;
		default:
			sl_count(st, SL_C_ERR_400);
			break;
		}
	} else {
		sl_count(st, SL_C_REQ_RETRANS);
	}
	return sl_send_from(st, rp, cur, (sl_s32)cur -
			    (sl_s32)sl_window(pk, s->seg, sl_burst(s, retrans)));
}

/*
 * The rest of a response from a body state: body segments only (no header
 * needed), ending j segments after the acknowledged position.
 */
static void sl_body_reply(struct sl_reply *rp, const struct sl_pkt *pk,
			  const struct sl_state *s, sl_u32 ack)
{
	rp->kind = SL_K_RESP;
	rp->resp_len = 0;
	rp->head_len = 0;
	rp->body = ~0u;
	rp->seg = s->seg;
	rp->end_seq = pk->ack + s->j * s->seg;
	rp->ack = ack;
	rp->ack_last = ack;
	rp->fin = s->mode == SL_MODE_CLOSE;
}

/* A pure ACK in the middle of a response: release the window's edge. */
static enum sl_verdict sl_continue(struct sl_stats *st,
				   const struct sl_pkt *pk,
				   const struct sl_state *s,
				   struct sl_reply *rp)
{
	sl_s32 m = s->seg;
	sl_s32 e = (sl_s32)(s->j * s->seg) -
		   (sl_s32)sl_window(pk, s->seg, s->burst);
	sl_s32 kmin, kmax;

	if (pk->win < s->seg) {
		sl_count(st, SL_C_DROP_WINDOW);
		return SL_DROP;
	}
	/*
	 * The client echoes the window edge of the burst that held the first
	 * segment after its previous ACK. If it has acknowledged up to that
	 * edge (within a segment: the edge is coded in whole segments), the
	 * window drained: release all of it. (While data flows, the echo lags
	 * a window ahead of the ACK: the rule below.) Only a fresh echo
	 * proves that.
	 */
	if (s->echo == SL_ECHO_FRESH && s->delta <= 1) {
		sl_u32 cur = s->j * s->seg;

		sl_body_reply(rp, pk, s, pk->seq - 1);
		sl_count(st, SL_C_CONT);
		return sl_send_from(st, rp, cur, (sl_s32)cur -
				    (sl_s32)sl_window(pk, s->seg, s->burst));
	}
	kmin = e <= 0 ? 0 : (e + m - 1) / m;
	if (e + 2 * m <= 0) {
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	}
	kmax = (e + 2 * m - 1) / m;
	if (kmax > (sl_s32)s->j - 1)
		kmax = (sl_s32)s->j - 1;
	if (kmin > kmax) {
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	}
	/* all but the request's last byte: the client keeps a retransmission
	 * timer running until the whole response is acknowledged */
	sl_body_reply(rp, pk, s, pk->seq - 1);
	rp->cur = (sl_u32)(kmax + 1) * s->seg;
	rp->stop = (sl_u32)kmin * s->seg;
	sl_count(st, SL_C_CONT);
	return SL_REPLY;
}

/*
 * Client data at a mid-response body state: its retransmission (of the
 * request, or of the request's last byte). The rest of the response is body
 * only, so it is resent from here within the window without parsing.
 */
static enum sl_verdict sl_resend_body(struct sl_stats *st,
				      const struct sl_pkt *pk,
				      const struct sl_state *s,
				      struct sl_reply *rp)
{
	sl_u32 cur = s->j * s->seg;

	sl_body_reply(rp, pk, s, pk->seq);
	sl_count(st, SL_C_REQ_RETRANS);
	return sl_send_from(st, rp, cur, (sl_s32)cur -
			    (sl_s32)sl_window(pk, s->seg, sl_burst(s, 1)));
}

static enum sl_verdict sl_fin(const struct sl_config *cfg,
			      struct sl_stats *st, const struct sl_pkt *pk,
			      const struct sl_state *s, struct sl_reply *rp)
{
	sl_u32 ack = pk->seq + pk->plen + 1;
	int fast = cfg->flags & SL_CFG_FAST_CLOSE;

	switch (s->where) {
	case SL_W_REQ:
		sl_count(st, SL_C_FIN);
		if (fast)
			return sl_rst(st, rp, pk);
		return sl_ctl(st, rp, pk->ack, ack, SL_TH_FIN | SL_TH_ACK);
	case SL_W_CLOSE_END:	/* our FIN was lost */
		sl_count(st, SL_C_FIN);
		return sl_ctl(st, rp, pk->ack, ack, SL_TH_FIN | SL_TH_ACK);
	case SL_W_FIN_KA:
	case SL_W_FIN_CL:
		sl_count(st, SL_C_FIN);
		if (fast)
			return sl_rst(st, rp, pk);
		return sl_ctl(st, rp, pk->ack, ack, SL_TH_ACK);
	default:
		sl_count(st, SL_C_BAD_STATE);
		return sl_rst_blind(cfg, st, rp, pk);
	}
}

/* MSS and timestamp options; a malformed option list ends the walk. */
static void sl_tcp_options(struct sl_pkt *pk)
{
	const sl_u8 *o = pk->tcp + 20, *end = pk->tcp + pk->thl;

	pk->ts = 0;
	pk->tsval = 0;
	pk->tsecr = 0;
	pk->mss = SL_DEFAULT_MSS;
	while (o < end) {
		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			o++;
			continue;
		}
		if (end - o < 2 || o[1] < 2 || o[1] > end - o)
			break;
		if (o[0] == 2 && o[1] == 4)
			pk->mss = sl_rd16(o + 2);
		if (o[0] == 8 && o[1] == 10) {
			pk->ts = 1;
			pk->tsval = sl_rd32(o + 2);
			pk->tsecr = sl_rd32(o + 6);
		}
		o += o[1];
	}
}

static enum sl_verdict sl_tcp(const struct sl_config *cfg,
			      struct sl_stats *st, const struct sl_pkt *pk,
			      struct sl_reply *rp)
{
	struct sl_state s;
	sl_u8 f = pk->flags;

	if (f & SL_TH_RST) {
		sl_count(st, SL_C_RST_RCVD);
		return SL_DROP;
	}
	if (!sl_peer_ok(pk)) {
		sl_count(st, SL_C_DROP_ADDR);
		return SL_DROP;
	}
	sl_reply_addr(rp, pk);
	/* RFC 7323: echo the client's clock; our clock is the window edge */
	rp->ts = pk->ts;
	rp->tsecr = pk->tsval;
	if (f & SL_TH_SYN) {
		sl_u32 mss, h;
		int c;

		if (f & (SL_TH_ACK | SL_TH_FIN)) {
			sl_count(st, SL_C_DROP_BAD_TCP);
			return SL_DROP;
		}
		mss = pk->mss < cfg->mss ? pk->mss : cfg->mss;
		if (pk->ts)	/* the option takes 12 bytes of every segment */
			mss = mss > SL_MSS_MIN + 12 ? mss - 12 : SL_MSS_MIN;
		c = sl_class_for(cfg, mss);
		h = sl_cookie(cfg->secret, pk->saddr, pk->daddr, pk->sport,
			      pk->dport);
		sl_count(st, SL_C_SYN);
		rp->mss_opt = 1;
		if (pk->ts)
			rp->tsval = sl_tsval(cfg, pk, sl_units(cfg, c, SL_R0));
		return sl_ctl(st, rp, sl_base(h, c) + SL_R0 - 1, pk->seq + 1,
			      SL_TH_SYN | SL_TH_ACK);
	}
	if (!(f & SL_TH_ACK)) {
		sl_count(st, SL_C_DROP_BAD_TCP);
		return SL_DROP;
	}
	if (sl_decode(cfg, pk, &s)) {
		sl_count(st, SL_C_BAD_COOKIE);
		return sl_rst_blind(cfg, st, rp, pk);
	}
	sl_echo(cfg, pk, &s);
	s.burst = sl_burst(&s, 0);
	/*
	 * TSval: our clock carries the client's window edge as we use it,
	 * which never moves left (the client echoes it: see sl_continue).
	 */
	if (pk->ts)
		rp->tsval = sl_tsval(cfg, pk, sl_units(cfg, s.cls, s.pos +
					 sl_window(pk, s.seg, s.burst)));
	if (s.echo == SL_ECHO_STALE)
		sl_count(st, SL_C_STALE_ECHO);
	if ((f & SL_TH_FIN) && !(pk->plen && s.where == SL_W_REQ))
		return sl_fin(cfg, st, pk, &s, rp);
	if (pk->plen) {
		switch (s.where) {
		case SL_W_FIN_KA:
		case SL_W_FIN_CL:	/* after our FIN: acknowledge */
			sl_count(st, SL_C_ACK_END);
			return sl_ctl(st, rp, pk->ack, pk->seq + pk->plen,
				      SL_TH_ACK);
		case SL_W_CLOSE_END:	/* data arrived, our FIN did not */
			return sl_ctl(st, rp, pk->ack, pk->seq,
				      SL_TH_FIN | SL_TH_ACK);
		case SL_W_BAD:
			sl_count(st, SL_C_BAD_STATE);
			return sl_rst_blind(cfg, st, rp, pk);
		default:
			/* data that would release data: only with our echo */
			if (s.echo == SL_ECHO_BAD) {
				sl_count(st, SL_C_BAD_ECHO);
				return sl_rst_blind(cfg, st, rp, pk);
			}
			if (!pk->win) {
				sl_count(st, SL_C_DROP_WINDOW);
				return SL_DROP;
			}
			if (s.where == SL_W_BODY)
				return sl_resend_body(st, pk, &s, rp);
			if (s.where == SL_W_REQ &&
			    sl_answered_match(cfg, s.h, pk->seq + pk->plen,
					      pk->ack)) {
				sl_count(st, SL_C_DUP_REQ);
				return sl_ctl(st, rp, pk->ack, pk->seq + pk->plen,
					      SL_TH_ACK);
			}
			return sl_request(cfg, st, pk, &s, rp);
		}
	}
	switch (s.where) {
	case SL_W_REQ:
		/*
		 * The client acknowledges a whole multi-segment response: now
		 * acknowledge its request. Only when the answered-request
		 * filter knows that response ends here: the same ACK is also
		 * a duplicate ACK for the *next* response whose first segment
		 * was lost, and acknowledging the request then would stop the
		 * client's retransmissions for good.
		 */
		if (sl_answered_match(cfg, s.h, pk->seq, pk->ack)) {
			sl_count(st, SL_C_ACK_END);
			return sl_ctl(st, rp, pk->ack, pk->seq, SL_TH_ACK);
		}
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	case SL_W_BODY:
		if (s.echo == SL_ECHO_BAD) {
			sl_count(st, SL_C_BAD_ECHO);
			return SL_DROP;
		}
		return sl_continue(st, pk, &s, rp);
	case SL_W_BAD:
		sl_count(st, SL_C_BAD_STATE);
		return sl_rst_blind(cfg, st, rp, pk);
	default:
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	}
}

/* ---- frame parsing ------------------------------------------------- */

static enum sl_verdict sl_arp(const struct sl_config *cfg,
			      struct sl_stats *st, const struct sl_rx *rx,
			      struct sl_reply *rp)
{
	const sl_u8 *a = rx->data + SL_ETH_HLEN;

	if (!(cfg->flags & SL_CFG_ARP) || !cfg->addr)
		return SL_PASS;
	if (rx->len < SL_ETH_HLEN + 28)
		return SL_PASS;
	if (sl_rd16(a) != 1 || sl_rd16(a + 2) != SL_ETH_P_IP || a[4] != 6 ||
	    a[5] != 4 || sl_rd16(a + 6) != 1 || sl_rd32(a + 24) != cfg->addr)
		return SL_PASS;
	/* the asker must be a unicast station with an address of its own */
	if ((rx->data[6] & 1) || (a[8] & 1) ||
	    !sl_addr_unicast(sl_rd32(a + 14)) || sl_rd32(a + 14) == cfg->addr) {
		sl_count(st, SL_C_DROP_ADDR);
		return SL_DROP;
	}
	rp->kind = SL_K_ARP;
	rp->echo = a;
	rp->echo_len = 28;
	sl_count(st, SL_C_ARP);
	return SL_REPLY;
}

static enum sl_verdict sl_icmp(const struct sl_config *cfg,
			       struct sl_stats *st, const struct sl_pkt *pk,
			       sl_u32 len, struct sl_reply *rp)
{
	const sl_u8 *icmp = pk->ip + pk->ihl;

	if (!(cfg->flags & SL_CFG_ICMP_ECHO) || !cfg->addr || len < 8 ||
	    icmp[0] != 8 || icmp[1] != 0 || len > SL_MSS_MAX + 20)
		return SL_PASS;
	if (sl_csum_fold(sl_csum_add(0, icmp, len)) != 0xffff) {
		sl_count(st, SL_C_DROP_CSUM);
		return SL_DROP;
	}
	if (!sl_peer_ok(pk)) {
		sl_count(st, SL_C_DROP_ADDR);
		return SL_DROP;
	}
	sl_reply_addr(rp, pk);
	rp->kind = SL_K_ICMP;
	rp->echo = icmp;
	rp->echo_len = len;
	sl_count(st, SL_C_ICMP);
	return SL_REPLY;
}

enum sl_verdict sl_input(const struct sl_config *cfg, struct sl_stats *st,
			 const struct sl_rx *rx, struct sl_reply *rp)
{
	struct sl_pkt pk;
	const sl_u8 *ip;
	sl_u32 tot, frag, l4len;
	sl_u8 proto;

	sl_count(st, SL_C_RX);
	rp->kind = SL_K_NONE;
	rp->mss_opt = 0;
	rp->fin = 0;
	if (!rx->data || rx->len < SL_ETH_HLEN)
		goto pass;
	pk.eth = rx->data;
	/* ours, or broadcast for ARP; never another station's or a group's */
	if (!sl_mac_is(rx->data, cfg->mac) &&
	    !(sl_mac_is(rx->data, sl_mac_bcast) &&
	      sl_rd16(rx->data + 12) == SL_ETH_P_ARP))
		goto pass;
	pk.sport = 0;
	pk.dport = 0;
	switch (sl_rd16(rx->data + 12)) {
	case SL_ETH_P_IP:
		break;
	case SL_ETH_P_ARP: {
		enum sl_verdict v = sl_arp(cfg, st, rx, rp);

		if (v == SL_PASS)
			goto pass;
		return v;
	}
	default:
		goto pass;
	}

	ip = rx->data + SL_ETH_HLEN;
	if (rx->len < SL_ETH_HLEN + 20) {
		sl_count(st, SL_C_DROP_TRUNC);
		return SL_DROP;
	}
	pk.ip = ip;
	pk.daddr = sl_rd32(ip + 16);
	pk.saddr = sl_rd32(ip + 12);
	if (cfg->addr ? pk.daddr != cfg->addr : !sl_addr_unicast(pk.daddr))
		goto pass;
	proto = ip[9];
	if (proto != SL_IPPROTO_TCP && proto != SL_IPPROTO_ICMP)
		goto pass;
	pk.ihl = (sl_u32)(ip[0] & 0x0f) * 4;
	tot = sl_rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || pk.ihl < 20 || tot < pk.ihl) {
		sl_count(st, SL_C_DROP_BAD_IP);
		return SL_DROP;
	}
	if (tot > rx->len - SL_ETH_HLEN) {
		sl_count(st, SL_C_DROP_TRUNC);
		return SL_DROP;
	}
	if (!(rx->flags & SL_RX_IP_CSUM_OK) &&
	    sl_csum_fold(sl_csum_add(0, ip, pk.ihl)) != 0xffff) {
		sl_count(st, SL_C_DROP_CSUM);
		return SL_DROP;
	}
	l4len = tot - pk.ihl;
	frag = sl_rd16(ip + 6) & 0x3fff;
	if (proto == SL_IPPROTO_ICMP) {
		if (frag)
			goto pass;
		{
			enum sl_verdict v = sl_icmp(cfg, st, &pk, l4len, rp);

			if (v == SL_PASS)
				goto pass;
			return v;
		}
	}
	/* TCP */
	pk.tcp = ip + pk.ihl;
	if (frag & 0x1fff) {	/* not the first fragment: no ports */
		if (!cfg->addr)
			goto pass;
		sl_count(st, SL_C_DROP_FRAG);
		return SL_DROP;
	}
	if (l4len < 4) {
		sl_count(st, SL_C_DROP_BAD_TCP);
		return SL_DROP;
	}
	pk.sport = sl_rd16(pk.tcp);
	pk.dport = sl_rd16(pk.tcp + 2);
	if (!sl_port_served(cfg, pk.dport))
		goto pass;
	if (frag) {
		sl_count(st, SL_C_DROP_FRAG);
		return SL_DROP;
	}
	if (l4len < 20) {
		sl_count(st, SL_C_DROP_BAD_TCP);
		return SL_DROP;
	}
	pk.thl = (sl_u32)(pk.tcp[12] >> 4) * 4;
	if (pk.thl < 20 || pk.thl > l4len) {
		sl_count(st, SL_C_DROP_BAD_TCP);
		return SL_DROP;
	}
	if (!(rx->flags & SL_RX_L4_CSUM_OK) &&
	    sl_csum_fold(sl_csum_add(sl_pseudo_sum(pk.saddr, pk.daddr,
						   SL_IPPROTO_TCP, l4len),
				     pk.tcp, l4len)) != 0xffff) {
		sl_count(st, SL_C_DROP_CSUM);
		return SL_DROP;
	}
	pk.payload = pk.tcp + pk.thl;
	pk.plen = l4len - pk.thl;
	pk.seq = sl_rd32(pk.tcp + 4);
	pk.ack = sl_rd32(pk.tcp + 8);
	pk.flags = pk.tcp[13];
	pk.win = sl_rd16(pk.tcp + 14);
	pk.now = rx->now;
	sl_tcp_options(&pk);
	return sl_tcp(cfg, st, &pk, rp);
pass:
	sl_count(st, SL_C_PASS);
	return SL_PASS;
}

/* ---- frame building ------------------------------------------------- */

static sl_u32 sl_eth_ip(const struct sl_config *cfg, const struct sl_reply *rp,
			sl_u8 *b, sl_u8 proto, sl_u32 l4len)
{
	sl_u8 *ip = b + SL_ETH_HLEN;
	sl_u32 tot = 20 + l4len;

	sl_copy(b, rp->eth_dst, 6);
	sl_copy(b + 6, cfg->mac, 6);
	sl_wr16(b + 12, SL_ETH_P_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	sl_wr16(ip + 2, (sl_u16)tot);
	sl_wr16(ip + 4, 0);
	sl_wr16(ip + 6, 0x4000);	/* DF */
	ip[8] = cfg->ttl;
	ip[9] = proto;
	sl_wr32(ip + 12, rp->saddr);
	sl_wr32(ip + 16, rp->daddr);
	/* the header's sum from the values written, not read back */
	sl_wr16(ip + 10, (sl_u16)~sl_csum_fold(0x4500u + tot + 0x4000u +
		((sl_u32)cfg->ttl << 8) + proto + (rp->saddr >> 16) +
		(rp->saddr & 0xffff) + (rp->daddr >> 16) + (rp->daddr & 0xffff)));
	return SL_ETH_HLEN + tot;
}

/* Length of the TCP options a segment of this reply carries. */
static sl_u32 sl_optlen(const struct sl_reply *rp, sl_u8 flags)
{
	if (flags & SL_TH_RST)
		return 0;
	return (rp->mss_opt ? 4 : 0) + (rp->ts ? 12 : 0);
}

/* TCP header + payload already in place; fill in the header and checksum. */
static sl_u32 sl_tcp_frame(const struct sl_config *cfg,
			   const struct sl_reply *rp, sl_u8 *b, sl_u32 seq,
			   sl_u32 ack, sl_u8 flags, sl_u32 plen, sl_u32 txflags,
			   struct sl_txinfo *ti)
{
	sl_u8 *th = b + SL_ETH_HLEN + 20, *o = th + 20;
	sl_u32 optlen = sl_optlen(rp, flags), thl = 20 + optlen, sum;

	sl_wr16(th, rp->sport);
	sl_wr16(th + 2, rp->dport);
	sl_wr32(th + 4, seq);
	sl_wr32(th + 8, ack);
	th[12] = (sl_u8)((thl / 4) << 4);
	th[13] = flags;
	sl_wr16(th + 14, cfg->window);
	sl_wr16(th + 16, 0);
	sl_wr16(th + 18, 0);
	if (optlen && rp->mss_opt) {
		o[0] = 2;
		o[1] = 4;
		sl_wr16(o + 2, cfg->mss);
		o += 4;
	}
	if (optlen && rp->ts) {
		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		sl_wr32(o + 4, rp->tsval);
		sl_wr32(o + 8, rp->tsecr);
	}
	sum = sl_pseudo_sum(rp->saddr, rp->daddr, SL_IPPROTO_TCP, thl + plen);
	ti->csum_start = SL_ETH_HLEN + 20;
	ti->csum_offset = 16;
	if (txflags & SL_TX_CSUM_OFFLOAD) {
		sl_wr16(th + 16, sl_csum_fold(sum));
		ti->csum_partial = 1;
	} else {
		sum = sl_csum_add(sum, th, thl + plen);
		sl_wr16(th + 16, (sl_u16)~sl_csum_fold(sum));
		ti->csum_partial = 0;
	}
	return sl_eth_ip(cfg, rp, b, SL_IPPROTO_TCP, thl + plen);
}

static sl_u32 sl_emit_resp(const struct sl_config *cfg, struct sl_stats *st,
			   struct sl_reply *rp, sl_u8 *b, sl_u32 cap,
			   sl_u32 txflags, struct sl_txinfo *ti)
{
	sl_u32 end, len, d, i, n;
	sl_u8 *pl = b + SL_HDRS_LEN + sl_optlen(rp, SL_TH_ACK);
	sl_u8 flags = SL_TH_ACK;

	if (rp->cur == 0 || rp->cur <= rp->stop)
		return 0;
	end = sl_next_end(rp, rp->cur);
	if (end < rp->stop)
		return 0;
	len = rp->cur - end;
	if (cap < SL_HDRS_LEN + sl_optlen(rp, SL_TH_ACK) + len)
		return 0;
	i = 0;
	d = rp->cur;
	if (d > rp->body) {	/* header bytes, by offset from the start */
		n = d - rp->body < len ? d - rp->body : len;
		sl_copy(pl, rp->hdr + (rp->resp_len - d), n);
		i = n;
		d -= n;
	}
	if (i < len)	/* body: the line anchored at the end, in one copy */
		sl_copy(pl + i, (const sl_u8 *)sl_body_run + ((64 - (d & 63)) & 63),
			len - i);
	if (end == 0) {
		flags |= SL_TH_PSH;
		if (rp->fin)
			flags |= SL_TH_FIN;
	}
	st->c[SL_C_TX_BYTES] += len;
	len = sl_tcp_frame(cfg, rp, b, rp->end_seq - rp->cur,
			   end == 0 ? rp->ack_last : rp->ack, flags, len, txflags,
			   ti);
	rp->cur = end;
	return len;
}

sl_u32 sl_emit(const struct sl_config *cfg, struct sl_stats *st,
	       struct sl_reply *rp, sl_u8 *buf, sl_u32 cap, sl_u32 txflags,
	       struct sl_txinfo *ti)
{
	sl_u32 len = 0, i;
	sl_u8 *p;

	switch (rp->kind) {
	case SL_K_CTL:
		if (cap < SL_HDRS_LEN + 16)
			break;
		len = sl_tcp_frame(cfg, rp, buf, rp->seq, rp->ack,
				   rp->tcp_flags, 0, txflags, ti);
		rp->kind = SL_K_NONE;
		break;
	case SL_K_RESP:
		len = sl_emit_resp(cfg, st, rp, buf, cap, txflags, ti);
		if (!len)
			rp->kind = SL_K_NONE;
		break;
	case SL_K_ARP:
		if (cap < 60)
			break;
		p = buf + SL_ETH_HLEN;
		sl_copy(buf, rp->echo + 8, 6);		/* to the asker */
		sl_copy(buf + 6, cfg->mac, 6);
		sl_wr16(buf + 12, SL_ETH_P_ARP);
		sl_copy(p, rp->echo, 6);		/* htype..plen */
		sl_wr16(p + 6, 2);
		sl_copy(p + 8, cfg->mac, 6);
		sl_wr32(p + 14, cfg->addr);
		sl_copy(p + 18, rp->echo + 8, 10);	/* sha, spa */
		for (i = SL_ETH_HLEN + 28; i < 60; i++)
			buf[i] = 0;
		len = 60;
		rp->kind = SL_K_NONE;
		ti->csum_partial = 0;
		break;
	case SL_K_ICMP:
		if (cap < SL_ETH_HLEN + 20 + rp->echo_len)
			break;
		p = buf + SL_ETH_HLEN + 20;
		sl_copy(p, rp->echo, rp->echo_len);
		p[0] = 0;
		sl_wr16(p + 2, 0);
		sl_wr16(p + 2, (sl_u16)~sl_csum_fold(sl_csum_add(0, p,
							  rp->echo_len)));
		len = sl_eth_ip(cfg, rp, buf, SL_IPPROTO_ICMP, rp->echo_len);
		rp->kind = SL_K_NONE;
		ti->csum_partial = 0;
		break;
	default:
		break;
	}
	if (len)
		sl_count(st, SL_C_TX_FRAMES);
	else
		rp->kind = SL_K_NONE;
	return len;
}
