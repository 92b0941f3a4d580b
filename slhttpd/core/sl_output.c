// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core, output frames: sl_emit() writes the frames of a reply plan,
 * one per call: Ethernet, IPv4 and TCP headers, response bytes, checksums.
 */
#include "sl_internal.h"

/* ---- frame building ------------------------------------------------- */

/*
 * Ethernet and IPv4 headers, word by word; the IP checksum from the values
 * written, not read back.
 */
static __always_inline sl_u32 sl_eth_ip(const struct sl_config *cfg,
					const struct sl_reply *rp, sl_u8 *b,
					sl_u8 proto, sl_u32 l4len)
{
	sl_u8 *ip = b + SL_ETH_HLEN;
	sl_u32 tot = 20 + l4len;
	sl_u32 ttlp = ((sl_u32)cfg->ttl << 8) | proto;
	sl_u32 sum = 0x4500u + tot + 0x4000u + ttlp + (rp->saddr >> 16) +
		     (rp->saddr & 0xffff) + (rp->daddr >> 16) +
		     (rp->daddr & 0xffff);

	sl_copy(b, rp->eth_dst, 6);
	sl_copy(b + 6, cfg->mac, 6);
	sl_st16(b + 12, SL_ETH_P_IP);
	sum = (sum & 0xffff) + (sum >> 16);	/* < 2^19: two folds */
	sum = (sum & 0xffff) + (sum >> 16);
	sl_st32(ip, 0x45000000u | tot);
	sl_st32(ip + 4, 0x4000);		/* id 0, DF */
	sl_st32(ip + 8, ttlp << 16 | (~sum & 0xffff));
	sl_st32(ip + 12, rp->saddr);
	sl_st32(ip + 16, rp->daddr);
	return SL_ETH_HLEN + tot;
}

/* Length of the TCP options a segment of this reply carries. */
static inline sl_u32 sl_optlen(const struct sl_reply *rp, sl_u8 flags)
{
	if (flags & SL_TH_RST)
		return 0;
	return (rp->mss_opt ? 4 : 0) + (rp->ts ? 12 : 0);
}

/*
 * TCP header + payload already in place; fill in the header and checksum.
 * The payload's last body_n bytes are body pattern from line offset body_a:
 * their sum comes from the line's prefix sums (sl_csum_body), not the bytes.
 */
static __always_inline sl_u32 sl_tcp_frame(const struct sl_config *cfg,
					   const struct sl_reply *rp, sl_u8 *b,
					   sl_u32 seq, sl_u32 ack, sl_u8 flags,
					   sl_u32 plen, sl_u32 txflags,
					   struct sl_txinfo *ti, sl_u32 optlen,
					   sl_u32 body_a, sl_u32 body_n)
{
	sl_u8 *th = b + SL_ETH_HLEN + 20, *o = th + 20;
	sl_u32 thl = 20 + optlen, sum;

	sl_st32(th, (sl_u32)rp->sport << 16 | rp->dport);
	sl_st32(th + 4, seq);
	sl_st32(th + 8, ack);
	sl_st32(th + 12, (thl / 4) << 28 | (sl_u32)flags << 16 | cfg->window);
	sl_st32(th + 16, 0);
	if (optlen && rp->mss_opt) {
		sl_st32(o, 0x02040000u | cfg->mss);
		o += 4;
	}
	if (optlen && rp->ts) {
		sl_st32(o, 0x0101080au);
		sl_st32(o + 4, rp->tsval);
		sl_st32(o + 8, rp->tsecr);
	}
	sum = sl_pseudo_sum(rp->saddr, rp->daddr, SL_IPPROTO_TCP, thl + plen);
	ti->csum_start = SL_ETH_HLEN + 20;
	ti->csum_offset = 16;
	if (txflags & SL_TX_CSUM_OFFLOAD) {
		sl_st16(th + 16, sl_csum_fold(sum));
		ti->csum_partial = 1;
	} else {
		sl_u64 s64 = sl_csum_add(sum, th, thl + plen - body_n);

		if (body_n)
			s64 += sl_csum_body(body_a, body_n, plen - body_n);
		sum = (sl_u32)s64 + (sl_u32)(s64 >> 32);
		if (sum < (sl_u32)s64)
			sum++;
		sl_st16(th + 16, (sl_u16)~sl_csum_fold(sum));
		ti->csum_partial = 0;
	}
	return sl_eth_ip(cfg, rp, b, SL_IPPROTO_TCP, thl + plen);
}

static sl_u32 sl_emit_resp(const struct sl_config *cfg, struct sl_stats *st,
			   struct sl_reply *rp, sl_u8 *b, sl_u32 cap,
			   sl_u32 txflags, struct sl_txinfo *ti)
{
	sl_u32 end, len, d, i, n, a, optlen = sl_optlen(rp, SL_TH_ACK);
	sl_u8 *pl = b + SL_HDRS_LEN + optlen;
	sl_u8 flags = SL_TH_ACK;

	if (rp->cur == 0 || rp->cur <= rp->stop)
		return 0;
	end = sl_next_end(rp, rp->cur);
	if (end < rp->stop)
		return 0;
	len = rp->cur - end;
	/* len > SL_MSS_MAX never happens: a bound the BPF verifier needs */
	if (len > SL_MSS_MAX || cap < SL_HDRS_LEN + optlen + len)
		return 0;
	i = 0;
	d = rp->cur;
	if (d > rp->body) {	/* header bytes, by offset from the start */
		n = d - rp->body < len ? d - rp->body : len;
		sl_copy(pl, rp->hdr + (rp->resp_len - d), n);
		i = n;
		d -= n;
	}
	a = (64 - (d & 63)) & 63;	/* the body's line offset */
	if (i < len)	/* body: the line anchored at the end, in one copy */
		sl_copy(pl + i, (const sl_u8 *)sl_body_run + a, len - i);
	if (end == 0) {
		flags |= SL_TH_PSH;
		if (rp->fin)
			flags |= SL_TH_FIN;
	}
	st->c[SL_C_TX_BYTES] += len;
	len = sl_tcp_frame(cfg, rp, b, rp->end_seq - rp->cur,
			   end == 0 ? rp->ack_last : rp->ack, flags, len, txflags,
			   ti, optlen, a, len - i);
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
				   rp->tcp_flags, 0, txflags, ti,
				   sl_optlen(rp, rp->tcp_flags), 0, 0);
		rp->kind = SL_K_NONE;
		break;
	case SL_K_RESP:
		len = sl_emit_resp(cfg, st, rp, buf, cap, txflags, ti);
		if (!len)
			rp->kind = SL_K_NONE;
		break;
#ifndef SL_BPF	/* ARP and ICMP: SL_USER in the BPF build (sl_input.c) */
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
#endif
	default:
		break;
	}
	if (len)
		sl_count(st, SL_C_TX_FRAMES);
	else
		rp->kind = SL_K_NONE;
	return len;
}

int sl_emit_more(const struct sl_reply *rp)
{
	if (rp->kind == SL_K_NONE)
		return 0;
	if (rp->kind == SL_K_RESP)
		return rp->cur != 0 && rp->cur > rp->stop;
	return 1;
}
