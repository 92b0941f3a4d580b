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
 *
 * Unrolled, one round is 10 ARMv7 instructions (the rotations fold into
 * the adds and xors). The timestamp MAC of a frame is computed twice (the
 * echo checked, our TSval made) over the same key and 4-tuple: the state
 * after those three words (struct sl_hs) is computed once per frame.
 */
#define ROTL32(x, b) (sl_u32)(((x) << (b)) | ((x) >> (32 - (b))))
static inline void sl_hs_round(struct sl_hs *s)
{
	sl_u32 v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;

	v0 += v1; v1 = ROTL32(v1, 5); v1 ^= v0; v0 = ROTL32(v0, 16);
	v2 += v3; v3 = ROTL32(v3, 8); v3 ^= v2;
	v0 += v3; v3 = ROTL32(v3, 7); v3 ^= v0;
	v2 += v1; v1 = ROTL32(v1, 13); v1 ^= v2; v2 = ROTL32(v2, 16);
	s->v0 = v0;
	s->v1 = v1;
	s->v2 = v2;
	s->v3 = v3;
}

static inline sl_u32 rd32le(const sl_u8 *p)
{
	return (sl_u32)p[0] | (sl_u32)p[1] << 8 | (sl_u32)p[2] << 16 |
	       (sl_u32)p[3] << 24;
}

static inline void sl_hs_init(struct sl_hs *s, const sl_u8 key[8])
{
	sl_u32 k0 = rd32le(key), k1 = rd32le(key + 4);

	s->v0 = k0;
	s->v1 = k1;
	s->v2 = k0 ^ 0x6c796765u;
	s->v3 = k1 ^ 0x74656462u;
}

static inline void sl_hs_word(struct sl_hs *s, sl_u32 m)
{
	s->v3 ^= m;
	sl_hs_round(s);
	s->v0 ^= m;
}

static inline sl_u32 sl_hs_final(struct sl_hs *s)
{
	s->v2 ^= 0xff;
	sl_hs_round(s);
	sl_hs_round(s);
	sl_hs_round(s);
	return s->v1 ^ s->v3;
}

/* HalfSipHash-1-3 of the 12-byte message saddr|daddr|sport|dport. */
sl_u32 sl_cookie(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport)
{
	struct sl_hs s;

	sl_hs_init(&s, key);
	sl_hs_word(&s, saddr);
	sl_hs_word(&s, daddr);
	sl_hs_word(&s, (sl_u32)dport << 16 | sport);
	sl_hs_word(&s, (sl_u32)12 << 24);
	return sl_hs_final(&s);
}

/* The timestamp MAC's state after the key and the 4-tuple. */
void sl_ts_key(struct sl_hs *s, const sl_u8 key[16], sl_u32 saddr,
	       sl_u32 daddr, sl_u16 sport, sl_u16 dport)
{
	sl_hs_init(s, key + 8);
	sl_hs_word(s, saddr);
	sl_hs_word(s, daddr);
	sl_hs_word(s, (sl_u32)dport << 16 | sport);
}

/* The rest of the timestamp MAC from sl_ts_key()'s state (not changed). */
sl_u16 sl_ts_mac_from(const struct sl_hs *key, sl_u32 tick, sl_u16 clock)
{
	struct sl_hs s = *key;
	sl_u32 h;

	sl_hs_word(&s, tick);
	sl_hs_word(&s, (sl_u32)18 << 24 | clock);
	h = sl_hs_final(&s);
	return (sl_u16)(h ^ (h >> 16));
}

/*
 * The timestamp MAC: 16 bits of HalfSipHash-1-3 over the 18-byte message
 * saddr|daddr|sport|dport|tick|clock, keyed with the secret's second half
 * (and a different length from the cookie's message).
 */
sl_u16 sl_ts_mac(const sl_u8 key[16], sl_u32 saddr, sl_u32 daddr,
		 sl_u16 sport, sl_u16 dport, sl_u32 tick, sl_u16 clock)
{
	struct sl_hs s;

	sl_ts_key(&s, key, saddr, daddr, sport, dport);
	return sl_ts_mac_from(&s, tick, clock);
}
