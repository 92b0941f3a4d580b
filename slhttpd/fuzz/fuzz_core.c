// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * libFuzzer harness for the SLHTTPD core.
 *
 * Input: one control byte, then an Ethernet frame.
 *   bit 0: claim the NIC verified the IP checksum
 *   bit 1: claim the NIC verified the TCP checksum
 *   bit 2: rewrite the TCP ack number into a valid cookie span (so that
 *          the fuzzer reaches every sequence state, not only the RST path);
 *          then a timestamp option whose TSecr has its top bit set gets a
 *          valid echo of our clock (the fuzzer's clock is 0), the others
 *          are left as they are (the bad-echo paths)
 *   bit 3: fast close; bit 4: answer ARP/ICMP; bit 5: checksum offload
 *   bits 6-7: output buffer size (tiny, short, exact, large)
 * With bit 2 the frame's connection also gets a sender cache entry (the
 * answered table, PROTOCOL.md) made of its own bytes: the response end is
 * the ack plus the IP ID, `sent` the ack plus the urgent pointer less
 * 32768, `recover` that less TTL * 256, a duplicate of this ACK if the TOS
 * is odd, TOS / 2 % 4 copies: the cached ACK paths from any state.
 * Every reply frame is emitted and checked for length consistency. The
 * frame's bytes from offset 54 (the payload of a TCP frame without options)
 * and the whole frame also go through the request parser and its reference
 * (tests/http_ref.h): any field that differs aborts.
 */
#include "../core/slhttpd.h"
#include "../core/sl_internal.h"
#include "../tests/http_ref.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const sl_u8 *data, size_t size);

static struct sl_config cfg;
static struct sl_answered table[256];
static int ready;

static void setup(void)
{
	sl_config_init(&cfg);
	cfg.addr = 0x0a4d0001;
	memcpy(cfg.mac, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(cfg.secret, "fuzzfuzzfuzzfuzz", 16);
	if (sl_ports_parse(&cfg, "80,8000-8999", 12) || sl_config_finish(&cfg))
		abort();
	cfg.answered = table;
	cfg.answered_mask = 255;
	ready = 1;
}

static void parse_both(const sl_u8 *d, sl_u32 len)
{
	struct sl_request a, b;
	int ra, rb;

	if (!ref_parse_both(&cfg, d, len, &ra, &a, &rb, &b))
		abort();
}

/* A valid echo, tick 0, in the first timestamp option of the TCP header. */
static void fix_echo(sl_u8 *frame, size_t len, sl_u8 *th, sl_u32 cls, sl_u32 pos)
{
	sl_u8 *o, *end;
	sl_u32 units, clock;

	if ((size_t)(th - frame) + 20 > len)
		return;
	o = th + 20;
	end = th + (th[12] >> 4) * 4;
	if ((size_t)(end - frame) > len)
		return;
	while (o + 10 <= end) {
		if (o[0] == 1) {
			o++;
			continue;
		}
		if (o[0] == 0 || o[1] < 2)
			return;
		if (o[0] == 8 && o[1] == 10) {
			if (!(o[6] & 0x80))
				return;
			units = (sl_u32)(((sl_u64)pos * cfg.cls_recip[cls]) >> 32);
			/* tick 0 + the echoed edge within 64 segments of the ack */
			clock = (units + (o[7] & 127) - 64) & 0xffff;
			sl_wr32(o + 6, clock << 16 |
				sl_ts_mac(cfg.secret, sl_rd32(frame + 26), sl_rd32(frame + 30),
					  sl_rd16(th), sl_rd16(th + 2), 0, (sl_u16)clock));
			return;
		}
		o += o[1];
	}
}

int LLVMFuzzerTestOneInput(const sl_u8 *data, size_t size)
{
	static const sl_u32 caps[4] = { 40, 200, SL_FRAME_MAX, 9000 };
	struct sl_stats st;
	struct sl_reply rp;
	struct sl_txinfo ti;
	struct sl_rx rx;
	sl_u8 ctl, *frame, *out;
	sl_u32 cap, n, frames = 0;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	memset(table, 0, sizeof(table));	/* no state from earlier inputs */
	ctl = data[0];
	/* an exact-size heap copy: ASan catches any read past the frame */
	frame = malloc(size - 1 ? size - 1 : 1);
	memcpy(frame, data + 1, size - 1);
	parse_both(frame, (sl_u32)(size - 1));
	if (size - 1 > 54)
		parse_both(frame + 54, (sl_u32)(size - 1 - 54));
	if ((ctl & 4) && size - 1 >= 14 + 20 + 20) {
		sl_u32 ihl = (sl_u32)(frame[14] & 15) * 4;

		if (14 + ihl + 12 <= size - 1) {
			sl_u8 *th = frame + 14 + ihl;
			sl_u32 h = sl_cookie(cfg.secret, sl_rd32(frame + 26),
					     sl_rd32(frame + 30), sl_rd16(th),
					     sl_rd16(th + 2));
			sl_u32 cls = th[8] >> 5;
			sl_u32 pos = SL_R0 + (sl_rd32(th + 8) & 0xfffff);

			sl_u32 ack = ((h & ~0xffu) ^ (cls << 29)) + pos;
			struct sl_answered *a = &table[(h ^ (h >> 16)) & 255];

			sl_wr32(th + 8, ack);
			fix_echo(frame, size - 1, th, cls, pos);
			if (14 + ihl + 20 <= size - 1) {
				a->key = h | 1;
				a->resp_end = ack + sl_rd16(frame + 18);
				a->sent = ack + sl_rd16(th + 18) - 32768;
				a->recover = a->sent - ((sl_u32)frame[22] << 8);
				a->last = (frame[15] & 1) ?
					  ack ^ (sl_u32)sl_rd16(th + 14) << 16 : 0;
				a->dups = (frame[15] >> 1) & 3;
			}
		}
	}
	cfg.flags = (sl_u8)(((ctl & 8) ? SL_CFG_FAST_CLOSE : 0) |
			    ((ctl & 16) ? SL_CFG_ARP | SL_CFG_ICMP_ECHO : 0));
	rx.data = frame;
	rx.len = (sl_u32)(size - 1);
	rx.flags = ctl & 3;
	rx.now = 0;
	memset(&st, 0, sizeof(st));
	cap = caps[ctl >> 6];
	out = malloc(cap);
	if (sl_input(&cfg, &st, &rx, &rp) == SL_REPLY) {
		while ((n = sl_emit(&cfg, &st, &rp, out, cap,
				    (ctl & 32) ? SL_TX_CSUM_OFFLOAD : 0, &ti))) {
			if (n > cap || n < 42)
				abort();
			if (++frames > SL_BURST_MAX + 1)
				abort();
		}
	}
	free(out);
	free(frame);
	return 0;
}
