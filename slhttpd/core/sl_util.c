// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SLHTTPD core: checksums, the handshake cookie hash, small arithmetic. */
#include "sl_internal.h"

const char sl_body_line[65] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n";

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

sl_u16 sl_csum_fold(sl_u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (sl_u16)sum;
}

sl_u32 sl_pseudo_sum(sl_u32 saddr, sl_u32 daddr, sl_u8 proto, sl_u32 len)
{
	sl_u64 s = (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) +
		   (daddr & 0xffff) + proto + len;

	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (sl_u32)s;
}

#define ROTL(x, b) (sl_u64)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND							\
	do {								\
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;			\
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;			\
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static sl_u64 rd64le(const sl_u8 *p)
{
	sl_u64 v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-2-4 of the 12-byte message saddr|daddr|sport|dport. */
sl_u32 sl_cookie(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport)
{
	sl_u64 k0 = rd64le(key), k1 = rd64le(key + 8);
	sl_u64 v0 = k0 ^ 0x736f6d6570736575ull;
	sl_u64 v1 = k1 ^ 0x646f72616e646f6dull;
	sl_u64 v2 = k0 ^ 0x6c7967656e657261ull;
	sl_u64 v3 = k1 ^ 0x7465646279746573ull;
	sl_u64 m0 = ((sl_u64)daddr << 32) | saddr;
	sl_u64 b = ((sl_u64)12 << 56) | ((sl_u64)dport << 16) | sport;
	sl_u64 h;

	v3 ^= m0;
	SIPROUND;
	SIPROUND;
	v0 ^= m0;
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	h = v0 ^ v1 ^ v2 ^ v3;
	return (sl_u32)(h ^ (h >> 32));
}

sl_u8 sl_inv8(sl_u8 odd)
{
	sl_u32 x = odd;	/* correct to 3 bits for any odd number */
	int i;

	for (i = 0; i < 3; i++)	/* Newton: each step doubles the bits */
		x = x * (2u - odd * x);
	return (sl_u8)x;
}
