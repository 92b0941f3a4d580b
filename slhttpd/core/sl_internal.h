/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/* SLHTTPD core internals shared by the core's files (not an API). */
#ifndef SLHTTPD_INTERNAL_H
#define SLHTTPD_INTERNAL_H

#include "slhttpd.h"
#ifdef SL_BPF
#include "sl_bpf.h"
#endif

/*
 * Hot helpers that must not cost a call (and its stack arguments): the
 * kernel's __always_inline, defined here for the builds without its headers.
 */
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Position of the first byte we send on a connection. */
#define SL_R0		0x80u
#define SL_STATE_MASK	(SL_STATES - 1)

/* sl_reply.kind */
enum {
	SL_K_NONE,
	SL_K_CTL,	/* one TCP segment without payload */
	SL_K_RESP,	/* response segments, maybe a FIN */
	SL_K_ARP,
	SL_K_ICMP,
};

/* TCP flags */
#define SL_TH_FIN	0x01
#define SL_TH_SYN	0x02
#define SL_TH_RST	0x04
#define SL_TH_PSH	0x08
#define SL_TH_ACK	0x10

/* Response modes */
#define SL_MODE_KEEPALIVE	0
#define SL_MODE_CLOSE		1

static inline sl_u16 sl_rd16(const sl_u8 *p)
{
	return (sl_u16)((p[0] << 8) | p[1]);
}

static inline sl_u32 sl_rd32(const sl_u8 *p)
{
	return ((sl_u32)p[0] << 24) | ((sl_u32)p[1] << 16) |
	       ((sl_u32)p[2] << 8) | p[3];
}

static inline void sl_wr16(sl_u8 *p, sl_u16 v)
{
	p[0] = (sl_u8)(v >> 8);
	p[1] = (sl_u8)v;
}

static inline void sl_wr32(sl_u8 *p, sl_u32 v)
{
	p[0] = (sl_u8)(v >> 24);
	p[1] = (sl_u8)(v >> 16);
	p[2] = (sl_u8)(v >> 8);
	p[3] = (sl_u8)v;
}

/*
 * Big-endian stores at any alignment: one byte-swap and one store where the
 * CPU allows unaligned words (ARMv7, x86), bytes otherwise and in BPF.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#if defined(__ARM_FEATURE_UNALIGNED) || defined(__x86_64__) || defined(__i386__)
#ifndef SL_BPF
#define SL_ST_WORDS
#endif
#endif
#endif

static inline void sl_st16(sl_u8 *p, sl_u32 v)
{
#ifdef SL_ST_WORDS
	sl_u16 w = __builtin_bswap16((sl_u16)v);

	__builtin_memcpy(p, &w, 2);
#else
	sl_wr16(p, (sl_u16)v);
#endif
}

static inline void sl_st32(sl_u8 *p, sl_u32 v)
{
#ifdef SL_ST_WORDS
	v = __builtin_bswap32(v);
	__builtin_memcpy(p, &v, 4);
#else
	sl_wr32(p, v);
#endif
}

static inline void sl_copy(sl_u8 *dst, const sl_u8 *src, sl_u32 len)
{
#ifdef SL_BPF
	sl_bpf_copy(dst, src, len);
#else
	__builtin_memcpy(dst, src, len);
#endif
}

/*
 * An address a peer may have (and we may answer): not in 0/8 (this
 * network), 127/8 (loopback), 224/4 (multicast), 240/4 (reserved, and the
 * limited broadcast 255.255.255.255).
 */
static inline int sl_addr_unicast(sl_u32 a)
{
	sl_u32 top = a >> 24;

	return top != 0 && top != 127 && top < 224;
}

/* Ones' complement sum (not folded) of len bytes, big-endian words. */
sl_u32 sl_csum_add(sl_u32 sum, const sl_u8 *p, sl_u32 len);
/* The same of n body bytes from line offset a, from an odd position if odd. */
sl_u32 sl_csum_body(sl_u32 a, sl_u32 n, sl_u32 odd);
extern const sl_u32 sl_line_psum[65];

static inline sl_u16 sl_csum_fold(sl_u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);	/* < 2^17 */
	sum = (sum & 0xffff) + (sum >> 16);	/* <= 0xffff */
	return (sl_u16)sum;
}

/* The pseudo-header's sum: four 16-bit halves, proto and len (< 2^19). */
static inline sl_u32 sl_pseudo_sum(sl_u32 saddr, sl_u32 daddr, sl_u8 proto,
				   sl_u32 len)
{
	return (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) +
	       (daddr & 0xffff) + proto + len;
}

/* 32 bits of HalfSipHash-1-3 over the 4-tuple, keyed by the secret. */
sl_u32 sl_cookie(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport);

/* 16 bits of HalfSipHash-1-3 over the 4-tuple, a tick and our 16-bit clock. */
sl_u16 sl_ts_mac(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport, sl_u32 tick, sl_u16 clock);

/* HalfSipHash state: sl_ts_mac() in two steps, the 4-tuple's part once per frame. */
struct sl_hs {
	sl_u32 v0, v1, v2, v3;
};

void sl_ts_key(struct sl_hs *s, const sl_u8 key[16], sl_u32 saddr,
	       sl_u32 daddr, sl_u16 sport, sl_u16 dport);
sl_u16 sl_ts_mac_from(const struct sl_hs *key, sl_u32 tick, sl_u16 clock);

/* Modular inverse of an odd number mod SL_STATES. */
sl_u8 sl_inv8(sl_u8 odd);

/* The 64-byte line the body pattern repeats, anchored at the body's end. */
extern const char sl_body_line[65];
/* sl_body_line repeated: 63 + SL_MSS_MAX bytes at least */
#define SL_BODY_RUN	(24 * 64)
extern const char sl_body_run[SL_BODY_RUN + 1];

static inline sl_u8 sl_body_byte(sl_u32 dist_to_end)
{
	return (sl_u8)sl_body_line[(64 - (dist_to_end & 63)) & 63];
}

/* A parsed request line and the headers we care about. */
struct sl_request {
	sl_u16 status;		/* 200, or the error to answer */
	sl_u8 head;		/* HEAD */
	sl_u8 mode;		/* SL_MODE_* asked for (or defaulted) */
	sl_u8 complete;		/* headers ended in this segment */
	sl_u8 pipelined;	/* bytes after the end of the headers */
	sl_u32 body;		/* object size asked for */
};

/* Parse one request from data[0..len); returns 0, or -1 if not even a request line. */
int sl_parse_request(const struct sl_config *cfg, const sl_u8 *data,
		     sl_u32 len, struct sl_request *req);

/* ---- shared by the core's files ---------------------------------------- */

#define SL_ETH_HLEN	14
#define SL_ETH_P_IP	0x0800
#define SL_ETH_P_ARP	0x0806
#define SL_IPPROTO_ICMP	1
#define SL_IPPROTO_TCP	6

/* A validated view of a received TCP/IPv4 frame. */
struct sl_pkt {
	const sl_u8 *eth;
	const sl_u8 *ip;
	const sl_u8 *tcp;
	const sl_u8 *payload;
	sl_u32 ihl, thl, plen;
	sl_u32 l4len;		/* IP payload length */
	sl_u16 frag;		/* IP MF and fragment offset */
	sl_u32 saddr, daddr;
	sl_u16 sport, dport, win;
	sl_u32 seq, ack;
	sl_u8 flags;
	sl_u8 ts;		/* carries a timestamp option */
	sl_u32 tsval, tsecr;
	sl_u32 mss;		/* MSS option (SYN), else SL_DEFAULT_MSS */
	sl_u32 now;		/* sl_rx.now */
};

static inline void sl_count(struct sl_stats *st, enum sl_counter c)
{
	st->c[c]++;
}

/*
 * May we answer this sender at all? A unicast Ethernet source, a unicast
 * IPv4 source that is not our own address (the destination: it is ours).
 * Anything else is a spoofed or looped frame: a reply would go to a group,
 * to ourselves, or nowhere.
 */
static inline int sl_peer_ok(const struct sl_pkt *pk)
{
	return !(pk->eth[6] & 1) && sl_addr_unicast(pk->saddr) &&
	       pk->saddr != pk->daddr;
}

/* sl_tcp.c: a validated TCP segment to its reply plan */
enum sl_verdict sl_tcp(const struct sl_config *cfg, struct sl_stats *st,
		       const struct sl_pkt *pk, struct sl_reply *rp);
/* sl_tcp.c: the reply goes back to the sender of pk */
void sl_reply_addr(struct sl_reply *rp, const struct sl_pkt *pk);
/*
 * sl_layout.c: headers and segmentation for segment class cls; 0, or -1 if
 * too large for the states
 */
int sl_layout(const struct sl_config *cfg, struct sl_reply *rp,
	      sl_u16 status, sl_u32 body, sl_u8 head, sl_u8 mode, int cls);

/*
 * x / seg for x < 2^21 (every length and position in a response) as a
 * multiplication: ARMv7-A has no divide instruction. Exact: with recip =
 * ceil(2^32 / seg) = (2^32 + e) / seg, e < seg < 2^11, the error x * e /
 * (seg * 2^32) stays below 1 / seg.
 */
static inline sl_u32 sl_div_recip(sl_u32 x, sl_u32 recip)
{
	return (sl_u32)(((sl_u64)x * recip) >> 32);
}

static inline sl_u32 sl_div_seg(const struct sl_reply *rp, sl_u32 x)
{
	return sl_div_recip(x, rp->recip);
}

/* End distance of the segment starting at distance cur from the end. */
static inline sl_u32 sl_next_end(const struct sl_reply *rp, sl_u32 cur)
{
	sl_u32 off, end;

	if (rp->resp_len && cur > rp->resp_len - rp->head_len) {
		off = rp->resp_len - cur;
		end = (sl_div_seg(rp, off) + 1) * rp->seg;
		if (end > rp->head_len)
			end = rp->head_len;
		return rp->resp_len - end;
	}
	return cur > rp->seg ? cur - rp->seg : 0;
}

#endif /* SLHTTPD_INTERNAL_H */
