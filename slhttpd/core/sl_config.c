// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SLHTTPD core: configuration, port ranges, counter names. */
#include "sl_internal.h"

/* MSS each segment class stands for; the last one is our own MSS. */
static const sl_u16 sl_class_mss[SL_CLASSES - 1] = {
	48, 76, 256, 524, 1220, 1400, 1448,
};

void sl_config_init(struct sl_config *cfg)
{
	sl_u8 *p = (sl_u8 *)cfg;
	sl_u32 i;

	for (i = 0; i < sizeof(*cfg); i++)
		p[i] = 0;
	cfg->mss = SL_MSS_MAX;
	cfg->window = 65535;
	cfg->ttl = 64;
	cfg->max_body = SL_BODY_LIMIT;
	cfg->default_body = 1024;
	cfg->rst_limit = SL_RST_LIMIT_DEFAULT;
	cfg->first_flight = SL_FIRST_FLIGHT_DEFAULT;
}

static int sl_t_used(sl_u32 t, sl_u32 tclose)
{
	if (t <= SL_MAX_SEGS)
		return 1;
	if (t >= tclose && t <= tclose + SL_MAX_SEGS)
		return 1;
	return t >= SL_STATES - SL_HEAD_SPLITS;
}

/*
 * Pick the segment size of a class: the largest odd size <= mss for which
 * a close-mode range exists whose two after-FIN states stay clear of every
 * range (see PROTOCOL.md). Returns 0 if none does.
 */
static int sl_class_derive(struct sl_config *cfg, int c, sl_u16 mss)
{
	sl_u32 m, tc;

	for (m = (mss & 1) ? mss : mss - 1; m >= 3; m -= 2) {
		sl_u8 inv = sl_inv8((sl_u8)m);
		sl_u32 tk = (SL_STATES - inv) & SL_STATE_MASK;

		for (tc = SL_MAX_SEGS + 1;
		     tc + SL_MAX_SEGS < SL_STATES - SL_HEAD_SPLITS; tc++) {
			sl_u32 tf = (tc - inv) & SL_STATE_MASK;

			if (sl_t_used(tk, tc) || sl_t_used(tf, tc))
				continue;
			cfg->cls_mss[c] = mss;
			cfg->cls_seg[c] = (sl_u16)m;
			cfg->cls_inv[c] = inv;
			cfg->cls_tclose[c] = (sl_u8)tc;
			cfg->cls_tfin_ka[c] = (sl_u8)tk;
			cfg->cls_tfin_cl[c] = (sl_u8)tf;
			cfg->cls_recip[c] = 0xffffffffu / m + 1;
			return 0;
		}
	}
	return -1;
}

int sl_config_finish(struct sl_config *cfg)
{
	int c;

	if (cfg->mss < SL_MSS_MIN || cfg->mss > SL_MSS_MAX)
		return -1;
	if (cfg->max_body > SL_BODY_LIMIT || cfg->default_body > cfg->max_body)
		return -1;
	if (cfg->window == 0 || cfg->ttl == 0)
		return -1;
	if (cfg->first_flight > SL_BURST_MAX)
		return -1;
	/* a unicast MAC, and an address we may answer from (0: any) */
	if ((cfg->mac[0] & 1) || !(cfg->mac[0] | cfg->mac[1] | cfg->mac[2] |
				   cfg->mac[3] | cfg->mac[4] | cfg->mac[5]))
		return -1;
	if (cfg->addr && !sl_addr_unicast(cfg->addr))
		return -1;
	for (c = 0; c < SL_CLASSES; c++) {
		sl_u16 mss = c < SL_CLASSES - 1 ? sl_class_mss[c] : cfg->mss;

		if (mss > cfg->mss)
			mss = cfg->mss;
		if (sl_class_derive(cfg, c, mss))
			return -1;
	}
	return 0;
}

int sl_port_served(const struct sl_config *cfg, sl_u16 port)
{
	return (cfg->ports[port >> 3] >> (port & 7)) & 1;
}

static int sl_parse_num(const char *s, sl_u32 len, sl_u32 *i, sl_u32 *out)
{
	sl_u32 v = 0, start = *i;

	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (sl_u32)(s[*i] - '0');
		if (v > 65535)
			return -1;
		(*i)++;
	}
	if (*i == start)
		return -1;
	*out = v;
	return 0;
}

/* One pass over the spec; sets the ports in map when map is not NULL. */
static int sl_ports_walk(sl_u8 *map, const char *spec, sl_u32 len)
{
	sl_u32 i = 0, p, lo, hi, n = 0;

	while (i < len && spec[i]) {
		while (i < len && spec[i] == ' ')
			i++;
		if (sl_parse_num(spec, len, &i, &lo))
			return -1;
		hi = lo;
		if (i < len && spec[i] == '-') {
			i++;
			if (sl_parse_num(spec, len, &i, &hi))
				return -1;
		}
		while (i < len && spec[i] == ' ')
			i++;
		if (lo == 0 || hi < lo)
			return -1;
		for (p = lo; map && p <= hi; p++)
			map[p >> 3] |= (sl_u8)(1u << (p & 7));
		n++;
		if (i < len && spec[i] == ',') {
			i++;
			continue;
		}
		if (i < len && spec[i] && spec[i] != '\n')
			return -1;
		break;
	}
	return n ? 0 : -1;
}

int sl_ports_parse(struct sl_config *cfg, const char *spec, sl_u32 len)
{
	sl_u32 p;

	if (sl_ports_walk((sl_u8 *)0, spec, len))
		return -1;
	for (p = 0; p < sizeof(cfg->ports); p++)
		cfg->ports[p] = 0;
	return sl_ports_walk(cfg->ports, spec, len);
}

static const char *const sl_counter_names[SL_C_MAX] = {
	[SL_C_RX] = "rx",
	[SL_C_PASS] = "pass",
	[SL_C_SYN] = "syn",
	[SL_C_REQ_KEEPALIVE] = "req_keepalive",
	[SL_C_REQ_CLOSE] = "req_close",
	[SL_C_REQ_RETRANS] = "req_retrans",
	[SL_C_HEAD] = "head",
	[SL_C_ERR_400] = "err_400",
	[SL_C_ERR_404] = "err_404",
	[SL_C_ERR_405] = "err_405",
	[SL_C_ERR_413] = "err_413",
	[SL_C_SPLIT] = "split",
	[SL_C_PIPELINED] = "pipelined",
	[SL_C_CONT] = "cont",
	[SL_C_ACK_END] = "ack_end",
	[SL_C_DUP_REQ] = "dup_req",
	[SL_C_FIN] = "fin",
	[SL_C_RST_SENT] = "rst_sent",
	[SL_C_RST_RCVD] = "rst_rcvd",
	[SL_C_ARP] = "arp",
	[SL_C_ICMP] = "icmp",
	[SL_C_TX_FRAMES] = "tx_frames",
	[SL_C_TX_BYTES] = "tx_bytes",
	[SL_C_DROP_TRUNC] = "drop_trunc",
	[SL_C_DROP_BAD_IP] = "drop_bad_ip",
	[SL_C_DROP_BAD_TCP] = "drop_bad_tcp",
	[SL_C_DROP_CSUM] = "drop_csum",
	[SL_C_DROP_FRAG] = "drop_frag",
	[SL_C_BAD_COOKIE] = "bad_cookie",
	[SL_C_BAD_STATE] = "bad_state",
	[SL_C_DROP_WINDOW] = "drop_window",
	[SL_C_DROP_ACK] = "drop_ack",
	[SL_C_DROP_ADDR] = "drop_addr",
	[SL_C_BAD_ECHO] = "bad_echo",
	[SL_C_STALE_ECHO] = "stale_echo",
	[SL_C_RST_LIMITED] = "rst_limited",
	[SL_C_DUP_ACK] = "dup_ack",
	[SL_C_FAST_RETRANS] = "fast_retrans",
};

const char *sl_counter_name(enum sl_counter c)
{
	if ((unsigned int)c >= SL_C_MAX)
		return "?";
	return sl_counter_names[c];
}
