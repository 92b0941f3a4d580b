// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core, response layout: the header block (padded so that the
 * response ends on its mode's end state) and the segmentation anchored at
 * the response's end (PROTOCOL.md "A response").
 */
#include "sl_internal.h"

/* ---- responses ---------------------------------------------------- */

/* Append the n bytes of s (a literal: n is a constant). */
static sl_u32 sl_put(sl_u8 *dst, sl_u32 at, const char *s, sl_u32 n)
{
	sl_copy(dst + at, (const sl_u8 *)s, n);
	return at + n;
}

#define SL_PUT(dst, at, lit)	sl_put(dst, at, lit, sizeof(lit) - 1)

static const sl_u32 sl_pow10[10] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000,
};

/* v in decimal: its digits counted first, then written from the last one. */
static sl_u32 sl_put_u32(sl_u8 *dst, sl_u32 at, sl_u32 v)
{
	sl_u32 n = 1, k;

	while (n < 10 && v >= sl_pow10[n])
		n++;
	for (k = n; k > 0; k--) {
		dst[at + k - 1] = (sl_u8)('0' + v % 10);
		v /= 10;
	}
	return at + n;
}

/*
 * A status line (with its extra headers) and an error body. The text is in
 * the table, not behind a pointer: the BPF build cannot follow a pointer
 * stored in its read-only data (xdp/README.md).
 */
struct sl_text {
	char s[52];
	sl_u8 n;
};

#define SL_TEXT(lit)	{ lit, sizeof(lit) - 1 }

static const struct sl_text sl_status_lines[] = {
	SL_TEXT("HTTP/1.1 200 OK\r\n"),
	SL_TEXT("HTTP/1.1 400 Bad Request\r\n"),
	SL_TEXT("HTTP/1.1 404 Not Found\r\n"),
	SL_TEXT("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"),
	SL_TEXT("HTTP/1.1 413 Content Too Large\r\n"),
};

static const struct sl_text sl_status_bodies[] = {
	SL_TEXT(""),
	SL_TEXT("bad request\n"),
	SL_TEXT("not found\n"),
	SL_TEXT("use GET or HEAD\n"),
	SL_TEXT("object too large\n"),
};

static int sl_status_index(sl_u16 status)
{
	switch (status) {
	case 200:
		return 0;
	case 404:
		return 2;
	case 405:
		return 3;
	case 413:
		return 4;
	default:
		return 1;
	}
}

#define SL_X16	"xxxxxxxxxxxxxxxx"
#define SL_X64	SL_X16 SL_X16 SL_X16 SL_X16
/* X-Pad's value: up to 255 'x' in one copy */
static const char sl_pad[256] = SL_X64 SL_X64 SL_X64 SL_X16 SL_X16 SL_X16 "xxxxxxxxxxxxxxx";

/*
 * Lay out a response: headers (padded so that its end lands on the mode's
 * end state), body, and the segmentation. Returns 0, or -1 if it does not
 * fit the state space for this segment size.
 */
int sl_layout(const struct sl_config *cfg, struct sl_reply *rp,
	      sl_u16 status, sl_u32 body, sl_u8 head, sl_u8 mode, int cls)
{
	/* always < SL_CLASSES; the mask is for the BPF verifier (xdp/README.md) */
	sl_u16 seg = cfg->cls_seg[cls & (SL_CLASSES - 1)];
	sl_u8 tclose = cfg->cls_tclose[cls & (SL_CLASSES - 1)];
	int si = sl_status_index(status);
	const struct sl_text *line = &sl_status_lines[si];
	const struct sl_text *ebody = &sl_status_bodies[si];
	sl_u32 elen = ebody->n;
	sl_u32 clen = status == 200 ? body : elen;
	sl_u32 send_body = (status == 200 && !head) ? body : 0;
	sl_u32 at, base, target, pad, len, n, pieces;

	/* at most 51 + 16 + 10 + 39 + 10 + 9 + 255 + 4 + 16 < SL_RESP_HDR_MAX */
	if (status == 200)	/* a constant copy: stores, no memcpy call */
		at = SL_PUT(rp->hdr, 0, "HTTP/1.1 200 OK\r\n");
	else
		at = sl_put(rp->hdr, 0, line->s, line->n);
	at = SL_PUT(rp->hdr, at, "Content-Length: ");
	at = sl_put_u32(rp->hdr, at, clen);
	if (mode == SL_MODE_CLOSE)
		at = SL_PUT(rp->hdr, at, "\r\nContent-Type: text/plain\r\n"
			    "Connection: close\r\nX-Pad: ");
	else
		at = SL_PUT(rp->hdr, at, "\r\nContent-Type: text/plain\r\n"
			    "Connection: keep-alive\r\nX-Pad: ");
	/* what follows the pad: "\r\n\r\n", the error text, the body */
	base = at + 4 + (head ? 0 : (status == 200 ? 0 : elen)) + send_body;
	target = mode == SL_MODE_CLOSE ? (0u - (sl_u32)tclose * seg) : 0u;
	pad = (target - base) & SL_STATE_MASK;
	at = sl_put(rp->hdr, at, sl_pad, pad);
	at = SL_PUT(rp->hdr, at, "\r\n\r\n");
	if (status != 200 && !head)
		at = sl_put(rp->hdr, at, ebody->s, elen);

	len = at + send_body;
	rp->seg = seg;
	rp->recip = cfg->cls_recip[cls & (SL_CLASSES - 1)];
	n = sl_div_seg(rp, send_body);
	rp->hdr_len = (sl_u16)at;
	rp->resp_len = len;
	rp->head_len = len - n * seg;
	rp->body = send_body;
	rp->fin = mode == SL_MODE_CLOSE;
	pieces = sl_div_seg(rp, rp->head_len + seg - 1);
	if (n > SL_MAX_SEGS || pieces > SL_HEAD_SPLITS)
		return -1;
	return 0;
}
