// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core: the keyed hashes that authenticate a client without state
 * (PROTOCOL.md): the handshake cookie over the 4-tuple, and the MAC in our
 * TCP timestamps.
 */
#include "sl_internal.h"

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

/* SipHash-2-4 of the n 64-bit words m[] (the last one holds the length). */
static sl_u64 sl_siphash(const sl_u8 key[16], const sl_u64 *m, int n)
{
	sl_u64 k0 = rd64le(key), k1 = rd64le(key + 8);
	sl_u64 v0 = k0 ^ 0x736f6d6570736575ull;
	sl_u64 v1 = k1 ^ 0x646f72616e646f6dull;
	sl_u64 v2 = k0 ^ 0x6c7967656e657261ull;
	sl_u64 v3 = k1 ^ 0x7465646279746573ull;
	int i;

	for (i = 0; i < n; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* SipHash-2-4 of the 12-byte message saddr|daddr|sport|dport. */
sl_u32 sl_cookie(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport)
{
	sl_u64 m[2];
	sl_u64 h;

	m[0] = ((sl_u64)daddr << 32) | saddr;
	m[1] = ((sl_u64)12 << 56) | ((sl_u64)dport << 16) | sport;
	h = sl_siphash(key, m, 2);
	return (sl_u32)(h ^ (h >> 32));
}

/*
 * The timestamp MAC: 16 bits of SipHash-2-4 over the 18-byte message
 * saddr|daddr|sport|dport|tick|clock (a different length from the
 * cookie's message, so the two never collide).
 */
sl_u16 sl_ts_mac(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport, sl_u32 tick, sl_u16 clock)
{
	sl_u64 m[3];
	sl_u64 h;

	m[0] = ((sl_u64)daddr << 32) | saddr;
	m[1] = ((sl_u64)tick << 32) | ((sl_u64)dport << 16) | sport;
	m[2] = ((sl_u64)18 << 56) | clock;
	h = sl_siphash(key, m, 3);
	return (sl_u16)(h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48));
}

