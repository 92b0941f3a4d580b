/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The core built for BPF (make -C slhttpd out/slhttpd_xdp.o, -DSL_BPF): what
 * the verifier needs in place of the few things the core otherwise takes
 * from the C compiler or from plain memory. Implemented by xdp/slhttpd_xdp.c;
 * see xdp/README.md for the paths the BPF build leaves to userspace (SL_USER).
 */
#ifndef SLHTTPD_BPF_H
#define SLHTTPD_BPF_H

/*
 * No memcpy in BPF. The source offsets the core computes from its reply plan
 * (a map value) are beyond what the verifier can bound: the copy goes
 * through bpf_probe_read_kernel(), len bounded to a frame.
 */
void sl_bpf_copy(sl_u8 *dst, const sl_u8 *src, sl_u32 len);

/*
 * The ones' complement sum (32 bits, not folded, native byte order) of len
 * bytes, len a multiple of 4 and at most a frame: bpf_csum_diff().
 */
sl_u32 sl_bpf_csum_words(const sl_u8 *p, sl_u32 len);

/*
 * bpf_loop(n, fn, ctx, 0): fn(0, ctx) ... fn(n - 1, ctx) until one returns 1.
 * The request parser's loop (sl_http.c): the verifier checks fn once per
 * state it starts in, not once per iteration.
 */
long sl_bpf_loop(sl_u32 n, long (*fn)(sl_u32 idx, void *ctx), void *ctx);

/*
 * n bytes (at most 64) of per-CPU map memory for the request parser's state:
 * the verifier tracks no value stored there (sl_http.c).
 */
void *sl_bpf_parser_state(sl_u32 n);

/* The answered-request filter lives in a BPF array map (shared with userspace). */
struct sl_answered *sl_bpf_answered(sl_u32 idx);

#endif /* SLHTTPD_BPF_H */
