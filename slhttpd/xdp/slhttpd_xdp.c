// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD in XDP: the protocol core (../core, built with -DSL_BPF and linked
 * into this program) answers every frame whose answer is one frame with
 * XDP_TX; a frame whose answer is more than one frame (a response of several
 * segments), or that the BPF build leaves out (SL_USER: ARP, ICMP echo), goes
 * to the AF_XDP socket of slhttpd-host --mode xdp, which runs the same core
 * in userspace. Frames not for us go to the stack (XDP_PASS). See README.md.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "slhttpd.h"
#include "sl_bpf.h"

/* Per CPU: the frame, two output buffers, the reply plan and frame counters. */
struct sl_scratch {
	struct sl_reply rp;
	struct sl_stats st;		/* this frame's counts */
	sl_u32 len;			/* of the received frame */
	__u64 parser[8];		/* sl_bpf_parser_state() */
	sl_u8 rx[SL_FRAME_MAX + 2];
	sl_u8 tx[SL_FRAME_MAX + 2];
	/*
	 * The verifier checks an access against the whole map value, with
	 * the largest offset and length it can prove: writes at a frame
	 * offset plus a length, each at most a frame, end within this.
	 */
	sl_u8 slack[4 * SL_FRAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_config);
} sl_cfg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_scratch);
} sl_scratch_map SEC(".maps");

#ifndef SL_BPF_NO_PARSER
/*
 * Options: [0]: requests parsed here (--xdp-requests): SL_XDP_REQ_OFF hands
 * them on, SL_XDP_REQ_ON parses those whose buffer can grow to a full frame,
 * SL_XDP_REQ_AUTO (the default) too, until a buffer cannot grow: then the
 * program sets SL_XDP_REQ_OFF itself (the driver has no room: a veth pays
 * the failed growth once, not per request).
 * Not in the build without the parser (slhttpd_xdp_noparse.o): slhttpd-host
 * refuses --xdp-requests=on when the object has no sl_opts_map.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_opts_map SEC(".maps");
#endif

/* Counters of frames answered here (XDP_TX, DROP, PASS), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_stats);
} sl_stats_map SEC(".maps");

/* The answered-request filter (struct sl_answered), mmapped by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 16);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sl_answered);
} sl_answered_map SEC(".maps");

/* AF_XDP sockets by receive queue. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} sl_xsks_map SEC(".maps");

/*
 * slhttpd_xdp (sl_input) tail-calls slhttpd_xdp_emit (sl_emit): verified
 * apart, the verifier walks each once instead of sl_emit once for every path
 * out of sl_input (xdp/README.md).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_progs_map SEC(".maps");

struct sl_answered *sl_bpf_answered(sl_u32 idx)
{
	return bpf_map_lookup_elem(&sl_answered_map, &idx);
}

void sl_bpf_copy(sl_u8 *dst, const sl_u8 *src, sl_u32 len)
{
	if (len <= SL_FRAME_MAX)
		bpf_probe_read_kernel(dst, len, src);
}

void *sl_bpf_parser_state(sl_u32 n)
{
	__u32 zero = 0;
	struct sl_scratch *s = bpf_map_lookup_elem(&sl_scratch_map, &zero);

	return s && n <= sizeof(s->parser) ? s->parser : NULL;
}

long sl_bpf_loop(sl_u32 n, long (*fn)(sl_u32 idx, void *ctx), void *ctx)
{
	return bpf_loop(n, fn, ctx, 0);
}

sl_u32 sl_bpf_csum_words(const sl_u8 *p, sl_u32 len)
{
	__u32 k, n, off = 0;
	__s64 sum = 0;

	/* bpf_csum_diff() takes at most 512 bytes */
	for (k = 0; k < 3 && off < len && len <= SL_FRAME_MAX; k++) {
		n = len - off > 512 ? 512 : len - off;
		sum = bpf_csum_diff(0, 0, (void *)(p + off), n, (__u32)sum);
		if (sum < 0)
			return 0;
		off += n;
	}
	return (sl_u32)sum;
}

static __always_inline int sl_to_user(struct xdp_md *ctx)
{
	return bpf_redirect_map(&sl_xsks_map, ctx->rx_queue_index, XDP_DROP);
}

/* Add this frame's counts to the CPU's (not for frames given to userspace). */
static __always_inline void sl_account(struct sl_scratch *s, struct sl_stats *tot)
{
	__u32 i;

	for (i = 0; i < SL_C_MAX; i++)
		tot->c[i] += s->st.c[i];
	tot->rst_second = s->st.rst_second;
	tot->rst_count = s->st.rst_count;
}

/*
 * A TCP frame with payload (a request, if it is ours) whose answer will be
 * larger than itself: can the driver's buffer grow to a full frame? A veth
 * copies each frame from its peer into a buffer of about its own size:
 * there XDP_TX cannot carry the answer of a request, and handing the frame
 * on at once saves running the core twice (xdp/README.md).
 */
static __always_inline int sl_request_unsendable(struct xdp_md *ctx,
						 const __u8 *f, __u32 len)
{
	__u32 ihl, tot, thl;
#ifndef SL_BPF_NO_PARSER
	__u32 zero = 0, *opt;
#endif

	if (len >= SL_FRAME_MAX || f[12] != 0x08 || f[13] != 0x00 || f[23] != 6)
		return 0;
	ihl = (f[14] & 15u) * 4;
	tot = (__u32)f[16] << 8 | f[17];
	if (ihl < 20 || 14 + ihl + 13 > len)
		return 0;
	thl = (f[(14 + ihl + 12) & 2047] >> 4) * 4u;
	if (tot <= ihl + thl)
		return 0;			/* no payload */
#ifdef SL_BPF_NO_PARSER
	return 1;				/* no parser here */
#else
	opt = bpf_map_lookup_elem(&sl_opts_map, &zero);
	if (!opt || *opt == SL_XDP_REQ_OFF)
		return 1;			/* requests are userspace's */
	if (bpf_xdp_adjust_tail(ctx, SL_FRAME_MAX - (int)len) < 0) {
		if (*opt == SL_XDP_REQ_AUTO)
			*opt = SL_XDP_REQ_OFF;	/* no room in this driver: stop trying */
		return 1;
	}
	bpf_xdp_adjust_tail(ctx, (int)len - SL_FRAME_MAX);
	return 0;
#endif
}

SEC("xdp")
int slhttpd_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0, len, i;
	const struct sl_config *cfg;
	struct sl_scratch *s;
	struct sl_stats *tot;
	struct sl_rx rx;
	enum sl_verdict v;

	cfg = bpf_map_lookup_elem(&sl_cfg_map, &zero);
	s = bpf_map_lookup_elem(&sl_scratch_map, &zero);
	tot = bpf_map_lookup_elem(&sl_stats_map, &zero);
	if (!cfg || !s || !tot)
		return XDP_PASS;
	len = (__u32)bpf_xdp_get_buff_len(ctx);
	if (len < 14 || len > SL_FRAME_MAX)
		return sl_to_user(ctx);	/* the full core decides */
	if (bpf_xdp_load_bytes(ctx, 0, s->rx, len) < 0)
		return sl_to_user(ctx);
	if (sl_request_unsendable(ctx, s->rx, len))
		return sl_to_user(ctx);
	for (i = 0; i < SL_C_MAX; i++)
		s->st.c[i] = 0;
	s->st.rst_second = tot->rst_second;
	s->st.rst_count = tot->rst_count;
	s->len = len;
	rx.data = s->rx;
	rx.len = len;
	rx.flags = 0;
	rx.now = (sl_u32)(bpf_ktime_get_ns() / 1000000);
	v = sl_input(cfg, &s->st, &rx, &s->rp);
	if (v == SL_USER)
		return sl_to_user(ctx);
	if (v == SL_REPLY) {
		bpf_tail_call(ctx, &sl_progs_map, 0);
		return XDP_DROP;	/* no emit program: not set up */
	}
	sl_account(s, tot);
	return v == SL_PASS ? XDP_PASS : XDP_DROP;
}

/* The reply of slhttpd_xdp's frame: XDP_TX if it is one frame. */
SEC("xdp")
int slhttpd_xdp_emit(struct xdp_md *ctx)
{
	__u32 zero = 0, n;
	const struct sl_config *cfg;
	struct sl_scratch *s;
	struct sl_stats *tot;
	struct sl_txinfo ti;

	cfg = bpf_map_lookup_elem(&sl_cfg_map, &zero);
	s = bpf_map_lookup_elem(&sl_scratch_map, &zero);
	tot = bpf_map_lookup_elem(&sl_stats_map, &zero);
	if (!cfg || !s || !tot)
		return XDP_DROP;
	n = sl_emit(cfg, &s->st, &s->rp, s->tx, SL_FRAME_MAX, 0, &ti);
	/* more than one frame: the answer is the userspace core's */
	if (sl_emit_more(&s->rp))
		return sl_to_user(ctx);
	if (n < 14 || n > SL_FRAME_MAX || s->len > SL_FRAME_MAX) {
		sl_account(s, tot);
		return XDP_DROP;
	}
	/* no room to grow the frame (driver's tailroom): userspace answers it */
	if (bpf_xdp_adjust_tail(ctx, (int)n - (int)s->len) < 0)
		return sl_to_user(ctx);
	if (bpf_xdp_store_bytes(ctx, 0, s->tx, n) < 0)
		return XDP_DROP;
	sl_account(s, tot);
	return XDP_TX;
}

char _license[] SEC("license") = "Dual MIT/GPL";
