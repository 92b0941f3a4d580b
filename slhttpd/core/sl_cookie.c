// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core: the keyed hashes that authenticate a client without state
 * (PROTOCOL.md): the handshake cookie over the 4-tuple, and the MAC in our
 * TCP timestamps.
 */
#include "sl_internal.h"

/*
 * HalfSipHash-1-3: SipHash's 32-bit variant with one round per word and
 * three to finish, which is what Linux's hsiphash() is on 32-bit CPUs
 * (SipHash-2-4 in 64-bit arithmetic costs several times more there). Its
 * 64-bit key is out of reach of an attacker who only sees its own
 * connections' cookies and TSvals; a blind attacker sees nothing of it.
 */
#define ROTL32(x, b) (sl_u32)(((x) << (b)) | ((x) >> (32 - (b))))
#define HSIPROUND							\
	do {								\
		v0 += v1; v1 = ROTL32(v1, 5); v1 ^= v0; v0 = ROTL32(v0, 16); \
		v2 += v3; v3 = ROTL32(v3, 8); v3 ^= v2;			\
		v0 += v3; v3 = ROTL32(v3, 7); v3 ^= v0;			\
		v2 += v1; v1 = ROTL32(v1, 13); v1 ^= v2; v2 = ROTL32(v2, 16); \
	} while (0)

static sl_u32 rd32le(const sl_u8 *p)
{
	return (sl_u32)p[0] | (sl_u32)p[1] << 8 | (sl_u32)p[2] << 16 |
	       (sl_u32)p[3] << 24;
}

/* HalfSipHash-1-3 (64-bit key) of the n 32-bit words m[] (the last holds the length). */
static sl_u32 sl_hsiphash(const sl_u8 key[8], const sl_u32 *m, int n)
{
	sl_u32 k0 = rd32le(key), k1 = rd32le(key + 4);
	sl_u32 v0 = k0, v1 = k1;
	sl_u32 v2 = k0 ^ 0x6c796765u, v3 = k1 ^ 0x74656462u;
	int i;

	for (i = 0; i < n; i++) {
		v3 ^= m[i];
		HSIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	HSIPROUND;
	HSIPROUND;
	HSIPROUND;
	return v1 ^ v3;
}

/* HalfSipHash-1-3 of the 12-byte message saddr|daddr|sport|dport. */
sl_u32 sl_cookie(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport)
{
	sl_u32 m[4];

	m[0] = saddr;
	m[1] = daddr;
	m[2] = (sl_u32)dport << 16 | sport;
	m[3] = (sl_u32)12 << 24;
	return sl_hsiphash(key, m, 4);
}

/*
 * The timestamp MAC: 16 bits of HalfSipHash-1-3 over the 18-byte message
 * saddr|daddr|sport|dport|tick|clock, keyed with the secret's second half
 * (and a different length from the cookie's message).
 */
sl_u16 sl_ts_mac(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport, sl_u32 tick, sl_u16 clock)
{
	sl_u32 m[5], h;

	m[0] = saddr;
	m[1] = daddr;
	m[2] = (sl_u32)dport << 16 | sport;
	m[3] = tick;
	m[4] = (sl_u32)18 << 24 | clock;
	h = sl_hsiphash(key + 8, m, 5);
	return (sl_u16)(h ^ (h >> 16));
}
