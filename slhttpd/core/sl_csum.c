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

/*
 * The body pattern's line as big-endian 16-bit words: sl_line_psum[k] is the
 * plain sum of its first k bytes (k odd: the last one as a high byte), so
 * any run of the line sums to a difference (core-tests checks the table
 * against sl_body_line).
 */
const sl_u32 sl_line_psum[65] = {
	0, 12288, 12337, 25137, 25188, 38500, 38553, 52377,
	52432, 66768, 66825, 91657, 91755, 117099, 117199, 143055,
	143157, 169525, 169629, 196509, 196615, 224007, 224115, 252019,
	252129, 280545, 280657, 309585, 309699, 339139, 339255, 369207,
	369325, 399789, 399909, 430885, 431007, 447647, 447713, 464865,
	464933, 482597, 482667, 500843, 500915, 519603, 519677, 538877,
	538953, 558665, 558743, 578967, 579047, 599783, 599865, 621113,
	621197, 642957, 643043, 665315, 665403, 688187, 688277, 700053,
	700063,
};

/*
 * The ones' complement sum (16 bits) of n bytes of the body pattern whose
 * first byte is at offset a of the line, summed from an even position of
 * the checksummed range (odd: from an odd one). No loop over the bytes: a
 * segment's body costs as much as a single byte.
 */
sl_u32 sl_csum_body(sl_u32 a, sl_u32 n, sl_u32 odd)
{
	sl_u32 s, r, e;

	a &= 63;
	e = a + n;
	if (e <= 64) {
		s = sl_line_psum[e] - sl_line_psum[a];
	} else {
		n -= 64 - a;
		r = n & 63;
		s = sl_line_psum[64] - sl_line_psum[a] +
		    (n >> 6) * sl_line_psum[64] + sl_line_psum[r];
	}
	/* < 2^30 for any n < 2^16: two folds */
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	/* the line's even bytes are high bytes; here the run's are */
	if ((a ^ odd) & 1)
		s = ((s & 0xff) << 8) | (s >> 8);
	return s;
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
