// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SLHTTPD core: Internet checksums (RFC 1071). */
#include "sl_internal.h"

/*
 * Ones' complement sums do not depend on byte order (RFC 1071): add native
 * 32-bit words into a 64-bit accumulator, fold, and swap the bytes of the
 * 16-bit result on a little-endian machine. An odd start or length is
 * handled byte-wise at the edges.
 */
static sl_u32 sl_swab16_sum(sl_u64 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	s = ((s & 0xff) << 8) | (s >> 8);
#endif
	return (sl_u32)s;
}

sl_u32 sl_csum_add(sl_u32 sum, const sl_u8 *p, sl_u32 len)
{
	sl_u64 s = 0;
	sl_u32 w;

#ifdef SL_BPF
	/* the verifier would walk the loops below word by word: a helper */
	if (len > SL_FRAME_MAX)
		return sum;
	s = sl_bpf_csum_words(p, len & ~3u);
	p += len & ~3u;
	len &= 3;
#endif
	while (len >= 16) {
		__builtin_memcpy(&w, p, 4);
		s += w;
		__builtin_memcpy(&w, p + 4, 4);
		s += w;
		__builtin_memcpy(&w, p + 8, 4);
		s += w;
		__builtin_memcpy(&w, p + 12, 4);
		s += w;
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		__builtin_memcpy(&w, p, 4);
		s += w;
		p += 4;
		len -= 4;
	}
	s = (sl_u64)sl_swab16_sum(s) + sum;
	if (len >= 2) {
		s += (sl_u32)((p[0] << 8) | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (sl_u32)(p[0] << 8);
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (sl_u32)s;
}
