// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core, input parsing: sl_input() validates a received Ethernet frame
 * (addressing, IPv4, TCP header and options, checksums), answers ARP and
 * ICMP echo, and hands TCP segments to sl_tcp() (sl_tcp.c).
 */
#include "sl_internal.h"

#define SL_DEFAULT_MSS	536	/* RFC 9293: MSS when the SYN has none */

static const sl_u8 sl_mac_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static int sl_mac_is(const sl_u8 *a, const sl_u8 *b)
{
#ifdef SL_BPF
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] &&
	       a[4] == b[4] && a[5] == b[5];
#else	/* two loads per side, any alignment */
	sl_u32 a4, b4;
	sl_u16 a2, b2;

	__builtin_memcpy(&a4, a, 4);
	__builtin_memcpy(&b4, b, 4);
	__builtin_memcpy(&a2, a + 4, 2);
	__builtin_memcpy(&b2, b + 4, 2);
	return a4 == b4 && a2 == b2;
#endif
}

/*
 * MSS and timestamp options; a malformed option list ends the walk. By index,
 * not by pointer: the BPF verifier bounds an index compared with thl, never
 * a pointer compared with a pointer; at most 40 steps (40 option bytes),
 * as the verifier wants every loop visibly bounded.
 */
static void sl_tcp_options(struct sl_pkt *pk)
{
	sl_u32 i = 20, end = pk->thl, k;
	const sl_u8 *o;

	pk->ts = 0;
	pk->tsval = 0;
	pk->tsecr = 0;
	pk->mss = SL_DEFAULT_MSS;
	/*
	 * The layouts clients use, read whole (the walk below gives the same):
	 * none or NOP NOP TS on every segment; MSS NOP NOP TS and Linux's
	 * MSS SACK-permitted TS NOP WS on a SYN.
	 */
	o = pk->tcp + 20;
	if (end == 20)
		return;
	if (end == 32 && sl_rd32(o) == 0x0101080au) {
		pk->ts = 1;
		pk->tsval = sl_rd32(o + 4);
		pk->tsecr = sl_rd32(o + 8);
		return;
	}
	if ((end == 36 && sl_rd16(o) == 0x0204 &&
	     sl_rd32(o + 4) == 0x0101080au) ||
	    (end == 40 && sl_rd16(o) == 0x0204 &&
	     sl_rd32(o + 4) == 0x0402080au && sl_rd16(o + 16) == 0x0103 &&
	     o[18] == 3)) {
		pk->mss = sl_rd16(o + 2);
		pk->ts = 1;
		pk->tsval = sl_rd32(o + 8);
		pk->tsecr = sl_rd32(o + 12);
		return;
	}
	for (k = 0; k < 40 && i < end && end <= 60; k++) {
		o = pk->tcp + i;
		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			i++;
			continue;
		}
		if (end - i < 2 || o[1] < 2 || o[1] > end - i)
			break;
		if (o[0] == 2 && o[1] == 4)
			pk->mss = sl_rd16(o + 2);
		if (o[0] == 8 && o[1] == 10) {
			pk->ts = 1;
			pk->tsval = sl_rd32(o + 2);
			pk->tsecr = sl_rd32(o + 6);
		}
		i += o[1];
	}
}

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
#ifdef SL_BPF
	return SL_USER;	/* rp->echo would point into the frame: see xdp/README.md */
#endif
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
#ifdef SL_BPF
	return SL_USER;	/* rp->echo would point into the frame: see xdp/README.md */
#endif
	sl_reply_addr(rp, pk);
	rp->kind = SL_K_ICMP;
	rp->echo = icmp;
	rp->echo_len = len;
	sl_count(st, SL_C_ICMP);
	return SL_REPLY;
}

/* A layer of sl_input() hands the frame on to the next one, or returns a verdict. */
#define SL_NEXT		(-1)

static int sl_drop(struct sl_stats *st, enum sl_counter c)
{
	sl_count(st, c);
	return SL_DROP;
}

/* Ethernet: frames to our MAC, and ARP requests (broadcast by nature). */
static int sl_ether(const struct sl_config *cfg, struct sl_stats *st,
		    const struct sl_rx *rx, struct sl_reply *rp)
{
	if (!rx->data || rx->len < SL_ETH_HLEN)
		return SL_PASS;
	/* ours, or broadcast for ARP; never another station's or a group's */
	if (!sl_mac_is(rx->data, cfg->mac) &&
	    !(sl_mac_is(rx->data, sl_mac_bcast) &&
	      sl_rd16(rx->data + 12) == SL_ETH_P_ARP))
		return SL_PASS;
	switch (sl_rd16(rx->data + 12)) {
	case SL_ETH_P_IP:
		return SL_NEXT;
	case SL_ETH_P_ARP:
		return sl_arp(cfg, st, rx, rp);
	default:
		return SL_PASS;
	}
}

/*
 * IPv4 to our address, well-formed and complete; ICMP echo is answered here.
 * Sets pk's addresses, header length, L4 length and fragment bits.
 */
static int sl_ipv4(const struct sl_config *cfg, struct sl_stats *st,
		   const struct sl_rx *rx, struct sl_pkt *pk,
		   struct sl_reply *rp)
{
	const sl_u8 *ip = rx->data + SL_ETH_HLEN;
	sl_u32 tot;
	sl_u8 proto;

	if (rx->len < SL_ETH_HLEN + 20)
		return sl_drop(st, SL_C_DROP_TRUNC);
	pk->ip = ip;
	pk->daddr = sl_rd32(ip + 16);
	pk->saddr = sl_rd32(ip + 12);
	if (cfg->addr ? pk->daddr != cfg->addr : !sl_addr_unicast(pk->daddr))
		return SL_PASS;
	proto = ip[9];
	if (proto != SL_IPPROTO_TCP && proto != SL_IPPROTO_ICMP)
		return SL_PASS;
	pk->ihl = (sl_u32)(ip[0] & 0x0f) * 4;
	tot = sl_rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || pk->ihl < 20 || tot < pk->ihl)
		return sl_drop(st, SL_C_DROP_BAD_IP);
	if (tot > rx->len - SL_ETH_HLEN)
		return sl_drop(st, SL_C_DROP_TRUNC);
	if (!(rx->flags & SL_RX_IP_CSUM_OK) &&
	    sl_csum_fold(sl_csum_add(0, ip, pk->ihl)) != 0xffff)
		return sl_drop(st, SL_C_DROP_CSUM);
	pk->l4len = tot - pk->ihl;
	pk->frag = sl_rd16(ip + 6) & 0x3fff;
	if (proto == SL_IPPROTO_ICMP)
		return pk->frag ? SL_PASS : sl_icmp(cfg, st, pk, pk->l4len, rp);
	return SL_NEXT;
}

/* TCP to a served port, first fragment, header and checksum valid. */
static int sl_tcp_hdr(const struct sl_config *cfg, struct sl_stats *st,
		      const struct sl_rx *rx, struct sl_pkt *pk)
{
	sl_u32 l4len = pk->l4len;

	pk->tcp = pk->ip + pk->ihl;
	if (pk->frag & 0x1fff)	/* not the first fragment: no ports */
		return cfg->addr ? sl_drop(st, SL_C_DROP_FRAG) : SL_PASS;
	if (l4len < 4)
		return sl_drop(st, SL_C_DROP_BAD_TCP);
	pk->sport = sl_rd16(pk->tcp);
	pk->dport = sl_rd16(pk->tcp + 2);
	if (!sl_port_served(cfg, pk->dport))
		return SL_PASS;
	if (pk->frag)
		return sl_drop(st, SL_C_DROP_FRAG);
	if (l4len < 20)
		return sl_drop(st, SL_C_DROP_BAD_TCP);
	pk->thl = (sl_u32)(pk->tcp[12] >> 4) * 4;
	if (pk->thl < 20 || pk->thl > l4len)
		return sl_drop(st, SL_C_DROP_BAD_TCP);
	if (!(rx->flags & SL_RX_L4_CSUM_OK) &&
	    sl_csum_fold(sl_csum_add(sl_pseudo_sum(pk->saddr, pk->daddr,
						   SL_IPPROTO_TCP, l4len),
				     pk->tcp, l4len)) != 0xffff)
		return sl_drop(st, SL_C_DROP_CSUM);
	pk->payload = pk->tcp + pk->thl;
	pk->plen = l4len - pk->thl;
	pk->seq = sl_rd32(pk->tcp + 4);
	pk->ack = sl_rd32(pk->tcp + 8);
	pk->flags = pk->tcp[13];
	pk->win = sl_rd16(pk->tcp + 14);
	pk->now = rx->now;
	sl_tcp_options(pk);
	return SL_NEXT;
}

/* Layer by layer: Ethernet, IPv4, the TCP header, then sl_tcp() (sl_tcp.c). */
enum sl_verdict sl_input(const struct sl_config *cfg, struct sl_stats *st,
			 const struct sl_rx *rx, struct sl_reply *rp)
{
	struct sl_pkt pk;
	int v;

	sl_count(st, SL_C_RX);
	rp->kind = SL_K_NONE;
	rp->mss_opt = 0;
	rp->fin = 0;
	pk.eth = rx->data;
	pk.sport = 0;	/* ICMP: no ports */
	pk.dport = 0;
	v = sl_ether(cfg, st, rx, rp);
	if (v == SL_NEXT)
		v = sl_ipv4(cfg, st, rx, &pk, rp);
	if (v == SL_NEXT)
		v = sl_tcp_hdr(cfg, st, rx, &pk);
	if (v == SL_NEXT)
		return sl_tcp(cfg, st, &pk, rp);
	if (v == SL_PASS)
		sl_count(st, SL_C_PASS);
	return (enum sl_verdict)v;
}
