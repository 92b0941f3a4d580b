// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core, TCP state: what a received segment means (its acknowledgement
 * number decoded into a position and state, its timestamp echo checked) and
 * what it gets (a reply plan for sl_emit()). PROTOCOL.md is the contract.
 */
#include "sl_internal.h"

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
	sl_u32 recip;	/* its reciprocal (sl_div_recip) */
	sl_u8 cls;
	sl_u8 tclose;
	enum sl_where where;
	sl_u8 mode;
	sl_u32 j;	/* SL_W_BODY: segments left; SL_W_SPLIT: index */
	enum sl_echo echo;	/* what the timestamp echo proves */
	sl_s32 delta;	/* SL_ECHO_FRESH: echoed edge - ack, in units */
	sl_u32 burst;	/* segments this frame may release */
};

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
	/* the mask: a bound the BPF verifier sees */
	return (sl_u32)(((sl_u64)pos * cfg->cls_recip[cls & (SL_CLASSES - 1)]) >>
			32);
}

/*
 * Our TSval: the high 16 bits are a clock, tick * 2^7 + edge (the window
 * edge in segments), which never goes back on a connection (PAWS); the low
 * 16 bits are a MAC of the 4-tuple, the whole tick and that clock.
 */
static sl_u32 sl_tsval(const struct sl_hs *key, const struct sl_pkt *pk,
		       sl_u32 edge_units)
{
	sl_u32 tick = (pk->now >> SL_TS_TICK_SHIFT) & SL_TICK_MASK;
	sl_u16 clock = (sl_u16)((tick << SL_TS_EDGE_BITS) + edge_units);

	return ((sl_u32)clock << 16) | sl_ts_mac_from(key, tick, clock);
}

/*
 * Check the client's echo (TSecr) against the acknowledged position: the
 * echoed edge is within 2^6 segments of it, which gives back the tick's low
 * bits; its age gives the whole tick, and the MAC must match.
 */
static void sl_echo(const struct sl_config *cfg, const struct sl_hs *key,
		    const struct sl_pkt *pk, struct sl_state *s)
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
	    sl_ts_mac_from(key, tick, (sl_u16)clock) != (pk->tsecr & 0xffff))
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

/*
 * Decode the acknowledgement number; 0, or -1 without a valid cookie. The
 * classes' bases differ only in their top 3 bits and a position is below
 * 2^29: less the base's low 29 bits, the ack's top 3 bits are the class's
 * (xor the cookie's), its low 29 bits the position. The one class whose
 * position can be in [R0, SL_CONN_SPAN), without trying all 8.
 */
static int sl_decode(const struct sl_config *cfg, const struct sl_pkt *pk,
		     struct sl_state *s)
{
	sl_u32 h = sl_cookie(cfg->secret, pk->saddr, pk->daddr, pk->sport,
			     pk->dport);
	sl_u32 low = h & ~SL_STATE_MASK & 0x1fffffffu;
	sl_u32 d = pk->ack - low;
	sl_u32 t, tc;
	int c;

	s->h = h;
	s->pos = d & 0x1fffffffu;
	if (s->pos < SL_R0 || s->pos >= SL_CONN_SPAN)
		return -1;
	c = (int)((d >> 29) ^ (h >> 29)) & (SL_CLASSES - 1);
	s->cls = (sl_u8)c;
	s->seg = cfg->cls_seg[c];
	s->recip = cfg->cls_recip[c];
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

void sl_reply_addr(struct sl_reply *rp, const struct sl_pkt *pk)
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
#ifdef SL_BPF
	return sl_bpf_answered((h ^ (h >> 16)) & cfg->answered_mask);
#else
	return &cfg->answered[(h ^ (h >> 16)) & cfg->answered_mask];
#endif
}

/*
 * Record a response of more than one segment: the answered-request filter
 * (req_end, resp_end) and the sender cache (sent up to `sent`, no ACK yet).
 */
static void sl_answered_put(struct sl_answered *a, sl_u32 h,
			    sl_u32 req_end, sl_u32 resp_end, sl_u32 p0,
			    sl_u32 sent)
{
	a->key = h | 1;
	a->req_end = req_end;
	a->resp_end = resp_end;
	a->sent = sent;
	a->last = ~p0;		/* no ACK is ~p0 ^ ...: none seen yet */
	a->recover = p0;
	a->dups = 0;
}

/* The table's entry of the response ending at resp_end, if held. */
static struct sl_answered *sl_sender(const struct sl_config *cfg, sl_u32 h,
				     sl_u32 resp_end)
{
	struct sl_answered *a;

	if (!cfg->answered)
		return 0;
	a = sl_answered_slot(cfg, h);
	if (!a || a->key != (h | 1) || a->resp_end != resp_end)
		return 0;
	return a;
}

/* Did we answer the request ending at req_end with a response ending at resp_end? */
static int sl_answered_match(const struct sl_config *cfg, sl_u32 h,
			     sl_u32 req_end, sl_u32 resp_end)
{
	const struct sl_answered *a = sl_sender(cfg, h, resp_end);

	return a && a->req_end == req_end;
}

static enum sl_verdict sl_request(const struct sl_config *cfg,
				  struct sl_stats *st,
				  const struct sl_pkt *pk,
				  const struct sl_state *s,
				  struct sl_reply *rp)
{
	struct sl_request req;
	struct sl_answered *a = 0;
	enum sl_verdict v;
	sl_u8 mode;
	sl_u32 p0, cur, burst;
	int retrans;
#ifdef SL_BPF_NO_PARSER
	/*
	 * The BPF build without the request parser (out/slhttpd_xdp_noparse.o,
	 * for kernels whose BPF JIT has no bpf-to-bpf calls, such as 32-bit
	 * ARM: the parser's bpf_loop() callback cannot load there): requests
	 * are userspace's (xdp/README.md, "On the virtual board").
	 */
	return SL_USER;
#endif
#ifdef SL_BPF
	/*
	 * The verifier reaches this point with many different known states;
	 * a copy by a helper (sl_copy) is unknown to it: it walks the request
	 * path far fewer times (xdp/README.md).
	 */
	struct sl_state ls;

	sl_copy((sl_u8 *)&ls, (const sl_u8 *)s, sizeof(ls));
	s = &ls;
#endif
	retrans = s->where != SL_W_REQ;

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
	if (sl_layout(cfg, rp, req.status, req.body, req.head, mode, s->cls)) {
		/* too large for the state space at this client's MSS */
		req.status = 413;
		if (!retrans)
			mode = SL_MODE_CLOSE;
		if (sl_layout(cfg, rp, 413, 0, req.head, mode, s->cls))
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
	burst = sl_burst(s, retrans);
	if (s->where == SL_W_REQ && rp->resp_len > rp->seg && cfg->answered) {
		/* SL_BPF: the map lookup may fail */
		a = sl_answered_slot(cfg, s->h);
		/*
		 * With the response in the sender cache, the client's ACKs
		 * release the rest one for one: the first flight is the
		 * initial window. (Without the entry the stateless ACK rules
		 * need the whole burst at once: they release the window's
		 * right edge, which is past a capped flight's end.)
		 */
		if (a && cfg->first_flight && burst > cfg->first_flight)
			burst = cfg->first_flight;
	}
	v = sl_send_from(st, rp, cur, (sl_s32)cur -
			 (sl_s32)sl_window(pk, s->seg, burst));
	if (a)
		sl_answered_put(a, s->h, pk->seq + pk->plen, rp->end_seq, p0,
				v == SL_REPLY ? rp->end_seq - rp->stop : p0);
	return v;
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
	rp->recip = 0;		/* no head part: no division */
	rp->end_seq = pk->ack + s->j * s->seg;
	rp->ack = ack;
	rp->ack_last = ack;
	rp->fin = s->mode == SL_MODE_CLOSE;
}

/*
 * A pure ACK in the middle of a response whose sender cache entry we hold:
 * send what the window newly allows, nothing twice (PROTOCOL.md "The
 * sender cache").
 */
static enum sl_verdict sl_continue_cached(struct sl_stats *st,
					  const struct sl_pkt *pk,
					  const struct sl_state *s,
					  struct sl_reply *rp,
					  struct sl_answered *a)
{
	sl_u32 cur = s->j * s->seg, v = pk->ack ^ (sl_u32)pk->win << 16;
	sl_u32 lim, from, e;
	sl_s32 l = (sl_s32)cur - (sl_s32)sl_window(pk, s->seg, s->burst);

	lim = l > 0 ? (sl_u32)l : 0;
	sl_body_reply(rp, pk, s, pk->seq - 1);
	if (a->last == v) {
		/*
		 * The same ACK again: the client got a segment out of order or
		 * twice. The 1st, 3rd, 7th, 15th ... copy resends the segment
		 * at the ack (a fast retransmit: it was lost, most likely; if
		 * the resent one is lost too, the later copies try again), the
		 * others get nothing: answering each copy with segments
		 * multiplied them into a storm. We have no timer: a segment
		 * resent this way is what spares the client its retransmission
		 * timeout, which doubles on every expiry for the whole response
		 * (our segments never acknowledge its request's last byte).
		 */
		a->dups++;
		if (a->dups & (a->dups + 1)) {
			sl_count(st, SL_C_DUP_ACK);
			return SL_DROP;
		}
		a->recover = a->sent;
		goto resend;
	}
	a->last = v;
	a->dups = 0;
	if ((sl_s32)(a->recover - pk->ack) > 0)
		goto resend;	/* a partial ACK: the next hole */
	/* new segments: those ending in (sent, ack + window] */
	e = a->resp_end - a->sent;	/* distance of `sent` from the end */
	if ((sl_s32)e > (sl_s32)cur)
		e = cur;		/* acknowledged beyond `sent` */
	/* the segment straddling `sent` was not sent: start at its start */
	from = (sl_u32)sl_div_recip(e + s->seg - 1, s->recip) * s->seg;
	if (from > cur)
		from = cur;
	if (lim < e)
		a->sent = a->resp_end - lim;
	if (!from || sl_next_end(rp, from) < lim) {
		sl_count(st, SL_C_DROP_ACK);	/* nothing new fits */
		return SL_DROP;
	}
	sl_count(st, SL_C_CONT);
	return sl_send_from(st, rp, from, (sl_s32)lim);
resend:
	sl_count(st, SL_C_FAST_RETRANS);
	return sl_send_from(st, rp, cur, (sl_s32)cur - s->seg > (sl_s32)lim ?
			    (sl_s32)cur - s->seg : (sl_s32)lim);
}

/* A pure ACK in the middle of a response: release the window's edge. */
static enum sl_verdict sl_continue(const struct sl_config *cfg,
				   struct sl_stats *st,
				   const struct sl_pkt *pk,
				   const struct sl_state *s,
				   struct sl_reply *rp)
{
	struct sl_answered *a;
	sl_s32 m = s->seg;
	sl_s32 e = (sl_s32)(s->j * s->seg) -
		   (sl_s32)sl_window(pk, s->seg, s->burst);
	sl_s32 kmin, kmax;

	if (pk->win < s->seg) {
		sl_count(st, SL_C_DROP_WINDOW);
		return SL_DROP;
	}
	a = sl_sender(cfg, s->h, pk->ack + s->j * s->seg);
#ifdef SL_BPF
	/*
	 * The cache changes with every ACK, and the XDP program hands most
	 * answers on to userspace, whose core would see the frame a second
	 * time: the userspace core alone keeps the cache (xdp/README.md).
	 */
	if (a)
		return SL_USER;
#endif
	if (a)
		return sl_continue_cached(st, pk, s, rp, a);
	/*
	 * Without the cache entry (no table, or its slot holds another
	 * connection's response): the stateless rules.
	 *
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
	/* e < 2^18 (112 segments): divisions by multiplication */
	kmin = e <= 0 ? 0 : (sl_s32)sl_div_recip((sl_u32)(e + m - 1), s->recip);
	if (e + 2 * m <= 0) {
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	}
	kmax = (sl_s32)sl_div_recip((sl_u32)(e + 2 * m - 1), s->recip);
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
static enum sl_verdict sl_resend_body(const struct sl_config *cfg,
				      struct sl_stats *st,
				      const struct sl_pkt *pk,
				      const struct sl_state *s,
				      struct sl_reply *rp)
{
	sl_u32 cur = s->j * s->seg;
	sl_s32 lim = (sl_s32)cur -
		     (sl_s32)sl_window(pk, s->seg, sl_burst(s, 1));
	struct sl_answered *a = sl_sender(cfg, s->h, pk->ack + cur);

#ifdef SL_BPF
	if (a)		/* the userspace core keeps the cache (sl_continue) */
		return SL_USER;
#endif
	sl_body_reply(rp, pk, s, pk->seq);
	sl_count(st, SL_C_REQ_RETRANS);
	if (a) {
		/* a timeout: what was sent after the ack is presumed lost */
		a->sent = pk->ack + cur - (lim > 0 ? (sl_u32)lim : 0);
		a->recover = pk->ack;
		a->dups = 0;
	}
	return sl_send_from(st, rp, cur, lim);
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

enum sl_verdict sl_tcp(const struct sl_config *cfg,
			      struct sl_stats *st, const struct sl_pkt *pk,
			      struct sl_reply *rp)
{
	struct sl_state s;
	struct sl_hs tk;	/* the timestamp MAC's key and 4-tuple */
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
		if (pk->ts) {
			sl_ts_key(&tk, cfg->secret, pk->saddr, pk->daddr,
				  pk->sport, pk->dport);
			rp->tsval = sl_tsval(&tk, pk, sl_units(cfg, c, SL_R0));
		}
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
	if (pk->ts)
		sl_ts_key(&tk, cfg->secret, pk->saddr, pk->daddr, pk->sport,
			  pk->dport);
	sl_echo(cfg, &tk, pk, &s);
	s.burst = sl_burst(&s, 0);
	/*
	 * TSval: our clock carries the client's window edge as we use it,
	 * which never moves left (the client echoes it: see sl_continue).
	 */
	if (pk->ts)
		rp->tsval = sl_tsval(&tk, pk, sl_units(cfg, s.cls, s.pos +
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
				return sl_resend_body(cfg, st, pk, &s, rp);
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
		return sl_continue(cfg, st, pk, &s, rp);
	case SL_W_BAD:
		sl_count(st, SL_C_BAD_STATE);
		return sl_rst_blind(cfg, st, rp, pk);
	default:
		sl_count(st, SL_C_DROP_ACK);
		return SL_DROP;
	}
}
