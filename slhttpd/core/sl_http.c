// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * SLHTTPD core: the HTTP/1.x request parser.
 *
 * One pass over the payload, one byte at a time through a state machine
 * (sl_http_byte), fed by sl_http_step(), which takes the common shapes in
 * bigger steps: the header lines we ignore a word at a time, one after
 * another up to the end of the headers, and "GET /<digits> HTTP/1.x\r\n"
 * (in the BPF build a word or a digit per step: SL_HTTP_RUN). No step
 * needs a position found by an earlier one: the same code is the parser of
 * every build, and in the BPF build (SL_BPF, xdp/) the steps are the body of
 * a bpf_loop() callback, which the verifier checks once per parser state
 * instead of once per byte of every path (xdp/README.md).
 *
 * What it accepts is PROTOCOL.md "Requests"; tests/http_ref.c keeps the
 * previous line-by-line parser as a reference, and core-tests and the fuzzer
 * check that both agree on every field.
 */
#include "sl_internal.h"

/* Main states (sl_http.st) */
enum {
	/* the request line */
	SL_H_LEAD,	/* empty lines before the request line */
	SL_H_METHOD,	/* method token: n bytes, the first four in w */
	SL_H_TARGET,	/* request target: sub-state t */
	SL_H_VERSION,	/* k bytes of "HTTP/1.x" matched */
	SL_H_VCR,	/* "HTTP/1.x\r": only '\n' may follow */
	SL_H_BADLINE,	/* an invalid request line: skip to its '\n' */
	/* header lines */
	SL_H_LINE,	/* at the start of a header line */
	SL_H_LCR,	/* a header line starting with '\r' */
	SL_H_NAME,	/* k bytes of "connection:" matched */
	SL_H_VALUE,	/* a Connection value: a token of n bytes */
	SL_H_SKIP,	/* the rest of a line we ignore */
	SL_H_DONE,	/* the empty line that ends the headers */
};

/* Target sub-states (sl_http.t) */
enum {
	SL_T_FIRST,	/* nothing yet */
	SL_T_ABS,	/* k bytes of "http://" matched (1..6) */
	SL_T_AUTH,	/* the authority of an absolute target, before its '/' */
	SL_T_PATH,	/* path after '/': n digits, value v */
	SL_T_PSUF,	/* path digits and a k or m */
	SL_T_PBAD,	/* the path is not a size: 404 unless s= */
	SL_T_QSTART,	/* a query parameter starts */
	SL_T_QS,	/* parameter "s" */
	SL_T_QVAL,	/* "s=" and n digits, value v */
	SL_T_QSUF,	/* "s=", digits and a k or m */
	SL_T_QSKIP,	/* another parameter */
	SL_T_Q400,	/* an s= value that is not a size: 400 */
	SL_T_BAD,	/* not a target we serve: 400 */
};

/* Flags (sl_http.f) */
#define SL_HF_11	0x01	/* request line: HTTP/1.1 */
#define SL_HF_FOUND	0x02	/* request line: an s= parameter gave the size */
#define SL_HF_404	0x04	/* request line: the path is not a size */
#define SL_HF_CLOSE	0x08	/* Connection line: "close" seen */
#define SL_HF_KEEP	0x80	/* Connection line: "keep-alive" seen */
#define SL_HF_CR	0x10	/* Connection line: a '\r' that may end the line */
#define SL_HF_TCLOSE	0x20	/* Connection token: a prefix of "close" so far */
#define SL_HF_TKEEP	0x40	/* Connection token: a prefix of "keep-alive" so far */

/* The parser's state (in the BPF build, in map memory: sl_bpf_parser_state()). */
struct sl_http {
	sl_u32 len;
	sl_u32 pos;		/* BPF: the next byte */
	sl_u32 default_body, max_body;
	sl_u32 v;		/* the size being read (path or s=) */
	sl_u32 path;		/* the size the path asks for */
	sl_u32 size;		/* the size the last valid s= asks for */
	sl_u32 w;		/* the method's first four bytes */
	struct sl_request r;
	sl_u8 st;		/* SL_H_* */
	sl_u8 t;		/* SL_T_* */
	sl_u8 k;		/* bytes of a word matched */
	sl_u8 n;		/* digits seen; bytes in a Connection token (<= 11) */
	sl_u8 m;		/* method bytes (<= 5) */
	sl_u8 f;		/* SL_HF_* */
	sl_u8 line;		/* the request line ended */
};

static int sl_is_tchar(sl_u8 c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return 1;
	}
	return 0;
}

static sl_u8 sl_lower(sl_u8 c)
{
	return (c >= 'A' && c <= 'Z') ? (sl_u8)(c + 32) : c;
}

static int sl_is_digit(sl_u8 c)
{
	return c >= '0' && c <= '9';
}

static int sl_is_km(sl_u8 c)
{
	c = sl_lower(c);
	return c == 'k' || c == 'm';
}

/* One more digit of a size, saturated at 2^31. */
static sl_u32 sl_size_digit(sl_u32 v, sl_u8 c)
{
	if (v >= 0x0ccccccdu)	/* v * 10 > 2^31 */
		return 0x80000000u;
	v = v * 10 + (sl_u32)(c - '0');
	return v > 0x80000000u ? 0x80000000u : v;
}

/* A size times its k (1024) or m (1048576) suffix, saturated at 2^31. */
static sl_u32 sl_size_suffix(sl_u32 v, sl_u8 c)
{
	sl_u32 sh = sl_lower(c) == 'k' ? 10 : 20;

	return v > (0x80000000u >> sh) ? 0x80000000u : v << sh;
}

/*
 * One byte of a size (the path's or the s= value's): a digit, then a k/m
 * suffix as the last byte (state suf), anything else leaves the size (bad).
 */
static void sl_http_size_char(struct sl_http *h, sl_u8 c, sl_u8 suf, sl_u8 bad)
{
	if (sl_is_digit(c)) {
		h->v = sl_size_digit(h->v, c);
		h->n = 1;
	} else if (h->n && sl_is_km(c)) {
		h->v = sl_size_suffix(h->v, c);
		h->t = suf;
	} else {
		h->t = bad;
	}
}

/* The path ends (at '?' or the end of the target): its size, or 404. */
static void sl_http_path_end(struct sl_http *h)
{
	if (h->t == SL_T_PATH && h->n == 0)
		h->path = h->default_body;	/* "/" */
	else if (h->t == SL_T_PATH || h->t == SL_T_PSUF)
		h->path = h->v;
	else
		h->f |= SL_HF_404;
	h->t = SL_T_QSTART;
}

/* An s= parameter ends (at '&' or the end of the target). */
static void sl_http_param_end(struct sl_http *h)
{
	if ((h->t == SL_T_QVAL && h->n) || h->t == SL_T_QSUF) {
		h->size = h->v;
		h->f |= SL_HF_FOUND;
		h->t = SL_T_QSTART;
	} else {
		h->t = SL_T_Q400;	/* "s=" without digits */
	}
}

/* One byte of the request target (not a space, CTL or DEL). */
static void sl_http_target(struct sl_http *h, sl_u8 c)
{
	switch (h->t) {
	case SL_T_FIRST:
		if (c == '/') {
			h->t = SL_T_PATH;
		} else if (sl_lower(c) == 'h') {
			h->t = SL_T_ABS;
			h->k = 1;
		} else {
			h->t = SL_T_BAD;
		}
		break;
	case SL_T_ABS:
		if (sl_lower(c) != (sl_u8)"http://"[h->k & 7])
			h->t = SL_T_BAD;
		else if (++h->k == 7)
			h->t = SL_T_AUTH;
		break;
	case SL_T_AUTH:
		if (c == '/')
			h->t = SL_T_PATH;
		break;
	case SL_T_PATH:
		if (c == '?')
			sl_http_path_end(h);
		else
			sl_http_size_char(h, c, SL_T_PSUF, SL_T_PBAD);
		break;
	case SL_T_PSUF:
	case SL_T_PBAD:
		if (c == '?')
			sl_http_path_end(h);
		else
			h->t = SL_T_PBAD;
		break;
	case SL_T_QSTART:
		h->t = c == 's' ? SL_T_QS : c == '&' ? SL_T_QSTART : SL_T_QSKIP;
		break;
	case SL_T_QS:
		if (c == '=') {
			h->t = SL_T_QVAL;
			h->v = 0;
			h->n = 0;
		} else {
			h->t = c == '&' ? SL_T_QSTART : SL_T_QSKIP;
		}
		break;
	case SL_T_QVAL:
		if (c == '&')
			sl_http_param_end(h);
		else
			sl_http_size_char(h, c, SL_T_QSUF, SL_T_Q400);
		break;
	case SL_T_QSUF:
		if (c == '&')
			sl_http_param_end(h);
		else
			h->t = SL_T_Q400;
		break;
	case SL_T_QSKIP:
		if (c == '&')
			h->t = SL_T_QSTART;
		break;
	default:	/* SL_T_Q400, SL_T_BAD: decided */
		break;
	}
}

/* The space after the target. */
static void sl_http_target_end(struct sl_http *h)
{
	switch (h->t) {
	case SL_T_PATH:
	case SL_T_PSUF:
	case SL_T_PBAD:
		sl_http_path_end(h);
		break;
	case SL_T_QVAL:
	case SL_T_QSUF:
		sl_http_param_end(h);
		break;
	}
}

/* A valid request line ends: the request's mode, status and size. */
static void sl_http_line_ok(struct sl_http *h)
{
	h->r.mode = (h->f & SL_HF_11) ? SL_MODE_KEEPALIVE : SL_MODE_CLOSE;
	if (h->t == SL_T_FIRST || h->t == SL_T_ABS || h->t == SL_T_AUTH ||
	    h->t == SL_T_BAD)
		return;					/* 400 */
	if (h->m == 3 && h->w == 0x474554u) {		/* "GET" */
		h->r.head = 0;
	} else if (h->m == 4 && h->w == 0x48454144u) {	/* "HEAD" */
		h->r.head = 1;
	} else {
		h->r.status = 405;
		return;
	}
	if (h->t == SL_T_Q400) {
		/* the size of the last valid s= before, if any */
		h->r.body = (h->f & SL_HF_FOUND) ? h->size : 0;
		h->r.status = 400;
		return;
	}
	if (!(h->f & SL_HF_FOUND)) {
		if (h->f & SL_HF_404) {
			h->r.status = 404;
			return;
		}
		h->size = h->path;
	}
	h->r.body = h->size;
	h->r.status = h->size > h->max_body ? 413 : 200;
}

/* A Connection token ends. */
static void sl_http_token(struct sl_http *h)
{
	if (h->n == 5 && (h->f & SL_HF_TCLOSE))
		h->f |= SL_HF_CLOSE;
	else if (h->n == 10 && (h->f & SL_HF_TKEEP))
		h->f |= SL_HF_KEEP;
	h->n = 0;
	h->f |= SL_HF_TCLOSE | SL_HF_TKEEP;
}

/* One more byte of a Connection token. */
static void sl_http_token_byte(struct sl_http *h, sl_u8 c)
{
	c = sl_lower(c);
	if (h->n >= 5 || c != (sl_u8)"close"[h->n & 7])
		h->f &= ~SL_HF_TCLOSE;
	if (h->n >= 10 || c != (sl_u8)"keep-alive"[h->n & 15])
		h->f &= ~SL_HF_TKEEP;
	if (h->n < 11)
		h->n++;
}

/* The end of a line: the request line, or a header line. */
static void sl_http_eol(struct sl_http *h, int ok)
{
	if (ok)
		sl_http_line_ok(h);
	h->st = SL_H_LINE;
	h->line = 1;
}

/* A byte of the method (or what ends it). */
static void sl_http_method(struct sl_http *h, sl_u8 c)
{
	if (c == ' ' && h->m) {
		h->st = SL_H_TARGET;
	} else if (sl_is_tchar(c)) {
		if (h->m < 4)
			h->w = h->w << 8 | c;
		if (h->m < 5)
			h->m++;
	} else if (c == '\n') {
		sl_http_eol(h, 0);
	} else {
		h->st = SL_H_BADLINE;
	}
}

/* Byte c at offset i: one step of the state machine. */
static void sl_http_byte(struct sl_http *h, sl_u8 c, sl_u32 i)
{
	switch (h->st) {
	case SL_H_LEAD:
		if (c == '\r' || c == '\n')
			break;
		h->st = SL_H_METHOD;
		sl_http_method(h, c);
		break;
	case SL_H_METHOD:
		sl_http_method(h, c);
		break;
	case SL_H_TARGET:
		if (c == ' ') {
			sl_http_target_end(h);
			h->st = SL_H_VERSION;
			h->k = 0;
		} else if (c == '\n') {
			sl_http_eol(h, 0);
		} else if (c < 0x21 || c == 0x7f) {
			h->st = SL_H_BADLINE;
		} else {
			sl_http_target(h, c);
		}
		break;
	case SL_H_VERSION:
		if (h->k < 7 && c == (sl_u8)"HTTP/1."[h->k & 7]) {
			h->k++;
		} else if (h->k == 7 && (c == '1' || c == '0')) {
			h->k = 8;
			if (c == '1')
				h->f |= SL_HF_11;
		} else if (h->k == 8 && c == '\r') {
			h->st = SL_H_VCR;
		} else if (c == '\n') {
			sl_http_eol(h, h->k == 8);
		} else {
			h->st = SL_H_BADLINE;
		}
		break;
	case SL_H_VCR:
		if (c == '\n')
			sl_http_eol(h, 1);
		else
			h->st = SL_H_BADLINE;
		break;
	case SL_H_BADLINE:
		if (c == '\n')
			sl_http_eol(h, 0);
		break;
	case SL_H_SKIP:
		if (c == '\n')
			h->st = SL_H_LINE;
		break;
	case SL_H_LINE:
	case SL_H_LCR:
		if (c == '\n') {
			h->r.complete = 1;
			h->r.pipelined = i + 1 < h->len;
			h->st = SL_H_DONE;
		} else if (c == '\r' && h->st == SL_H_LINE) {
			h->st = SL_H_LCR;
		} else if (sl_lower(c) == 'c' && h->st == SL_H_LINE) {
			h->st = SL_H_NAME;
			h->k = 1;
		} else {
			h->st = SL_H_SKIP;
		}
		break;
	case SL_H_NAME:
		if (c == '\n') {
			h->st = SL_H_LINE;
		} else if (sl_lower(c) != (sl_u8)"connection:"[h->k & 15]) {
			h->st = SL_H_SKIP;
		} else if (++h->k == 11) {
			h->st = SL_H_VALUE;
			h->n = 0;
			h->f = SL_HF_TCLOSE | SL_HF_TKEEP;
		}
		break;
	case SL_H_VALUE:
		if (h->f & SL_HF_CR) {
			/* that '\r' was part of the value unless c ends the line */
			h->f &= ~SL_HF_CR;
			if (c != '\n')
				sl_http_token_byte(h, '\r');
		}
		if (c == '\n') {
			/* a complete line: "close" wins over "keep-alive" */
			sl_http_token(h);
			if (h->f & SL_HF_CLOSE)
				h->r.mode = SL_MODE_CLOSE;
			else if (h->f & SL_HF_KEEP)
				h->r.mode = SL_MODE_KEEPALIVE;
			h->st = SL_H_LINE;
		} else if (c == '\r') {
			h->f |= SL_HF_CR;
		} else if (c == ' ' || c == '\t' || c == ',') {
			sl_http_token(h);
		} else {
			sl_http_token_byte(h, c);
		}
		break;
	default:	/* SL_H_DONE */
		break;
	}
}

/* Four bytes, the first in the low byte whatever the CPU's byte order. */
static sl_u32 sl_word(const sl_u8 *p)
{
	return (sl_u32)p[0] | (sl_u32)p[1] << 8 | (sl_u32)p[2] << 16 |
	       (sl_u32)p[3] << 24;
}

#define SL_W4(a, b, c, d)	((sl_u32)(a) | (sl_u32)(b) << 8 | \
				 (sl_u32)(c) << 16 | (sl_u32)(d) << 24)

/*
 * Most bytes one step's loop takes: the BPF verifier would walk a loop
 * byte by byte (or word by word) on every path: there, one.
 */
#ifdef SL_BPF
#define SL_HTTP_RUN	1
#else
#define SL_HTTP_RUN	SL_FRAME_MAX
#endif

/* The flags of the zero bytes of w ^ "\n\n\n\n": the lowest one is exact. */
static sl_u32 sl_nl_flags(sl_u32 w)
{
	sl_u32 z = w ^ 0x0a0a0a0au;

	return (z - 0x01010101u) & ~z & 0x80808080u;
}

/* Bytes up to and including the first '\n' of a word, from its flags z != 0. */
static sl_u32 sl_nl_len(sl_u32 z)
{
	return (z & 0x80u) ? 1 : (z & 0x8000u) ? 2 : (z & 0x800000u) ? 3 : 4;
}

/* "\r\n" at offset i, the start of a line: the end of the headers. */
static __always_inline int sl_http_done(struct sl_http *h, sl_u32 i)
{
	h->r.complete = 1;
	h->r.pipelined = i + 2 < h->len;
	h->st = SL_H_DONE;
	return 2;
}

/*
 * At the start of a header line (offset i), its first word w and w's '\n'
 * flags z: 2 for the end of the headers (SL_H_DONE), 0 for a line we skip
 * (SL_H_SKIP: not "Connection:", its first four bytes without '\n'), or -1:
 * byte by byte.
 */
static __always_inline int sl_http_line_start(struct sl_http *h, sl_u32 w,
					      sl_u32 z, sl_u32 i)
{
	if ((w & 0xffffu) == SL_W4('\r', '\n', 0, 0))
		return sl_http_done(h, i);
	w &= 0xdfu;	/* the first byte, upper case (and '\r', '\n' kept apart) */
	if (z || w == 'C' || w == ('\r' & 0xdfu) || w == ('\n' & 0xdfu))
		return -1;
	h->st = SL_H_SKIP;
	return 0;
}

/*
 * A line we skip, from offset i, whose first word has no '\n': the words to
 * its '\n', and the lines after it that sl_http_line_start() skips too, up
 * to the end of the headers or a line to take byte by byte. The BPF build:
 * that first word only.
 */
static __always_inline sl_u32 sl_http_skip(struct sl_http *h, const sl_u8 *d,
					   sl_u32 i)
{
	sl_u32 n = 4, w, z;
	int r;

	h->st = SL_H_SKIP;
	while (n < SL_HTTP_RUN && i + n + 4 <= h->len) {
		z = sl_nl_flags(sl_word(d + i + n));
		if (!z) {
			n += 4;
			continue;
		}
		n += sl_nl_len(z);
		h->st = SL_H_LINE;
		if (i + n + 2 <= h->len && d[i + n] == '\r' && d[i + n + 1] == '\n')
			return n + (sl_u32)sl_http_done(h, i + n);
		if (i + n + 4 > h->len)
			break;
		w = sl_word(d + i + n);
		r = sl_http_line_start(h, w, sl_nl_flags(w), i + n);
		if (r < 0)
			break;
		if (r > 0)
			return n + (sl_u32)r;
		n += 4;
	}
	return n;
}

/*
 * The request line's version and its end, right after the target: the state
 * "HTTP/1.x\r\n" leaves, or 0 (then byte by byte).
 */
static __always_inline sl_u32 sl_http_version(struct sl_http *h, const sl_u8 *d,
					      sl_u32 i)
{
	sl_u32 w;

	if (i + 8 > h->len || sl_word(d + i) != SL_W4('H', 'T', 'T', 'P'))
		return 0;
	w = sl_word(d + i + 4);
	if (w != SL_W4('/', '1', '.', '1') && w != SL_W4('/', '1', '.', '0'))
		return 0;
	h->k = 8;
	if (w == SL_W4('/', '1', '.', '1'))
		h->f |= SL_HF_11;
	if (i + 10 <= h->len && d[i + 8] == '\r' && d[i + 9] == '\n') {
		sl_http_eol(h, 1);
		return 10;
	}
	return 8;
}

/*
 * At SL_T_PATH (the path's '/' taken): its digits (the BPF build: one), and
 * if a space follows them, the target's end and sl_http_version(). The
 * bytes taken, 0 if none.
 */
static __always_inline sl_u32 sl_http_path(struct sl_http *h, const sl_u8 *d,
					   sl_u32 i)
{
	sl_u32 n = 0;

	while (n < SL_HTTP_RUN && i + n < h->len && sl_is_digit(d[i + n])) {
		h->v = sl_size_digit(h->v, d[i + n]);
		h->n = 1;
		n++;
	}
	if (i + n < h->len && d[i + n] == ' ') {
		sl_http_target_end(h);
		h->st = SL_H_VERSION;
		h->k = 0;
		n++;
		n += sl_http_version(h, d, i + n);
	}
	return n;
}

/*
 * One step at offset i (< len). Returns the number of bytes taken: a byte
 * through the state machine, or, where the outcome of several bytes is
 * known at once, more (those steps leave the state exactly as the bytes
 * one at a time would):
 * - lines we skip: to their '\n', and the end of the headers after them
 *   (sl_http_skip; the BPF build: a word);
 * - "GET /", the path's digits, the space after them and "HTTP/1.x\r\n"
 *   (sl_http_path; the BPF build: one digit).
 */
static sl_u32 sl_http_step(struct sl_http *h, const sl_u8 *d, sl_u32 i)
{
	sl_u32 w, z, n, st = h->st;
	int r;

	if ((st == SL_H_SKIP || st == SL_H_LINE) && i + 4 <= h->len) {
		w = sl_word(d + i);
		z = sl_nl_flags(w);
		if (st == SL_H_LINE) {
			r = sl_http_line_start(h, w, z, i);
			if (r < 0)
				goto byte;
			if (r > 0)
				return (sl_u32)r;
			return sl_http_skip(h, d, i);
		}
		if (!z)
			return sl_http_skip(h, d, i);
		h->st = SL_H_LINE;
		return sl_nl_len(z);
	}
	if (st == SL_H_TARGET && h->t == SL_T_PATH) {
		n = sl_http_path(h, d, i);
		if (n)
			return n;
	}
	if (st == SL_H_LEAD && i + 4 <= h->len &&
	    sl_word(d + i) == SL_W4('G', 'E', 'T', ' ')) {
		h->m = 3;
		h->w = 0x474554u;
		h->st = SL_H_TARGET;
		if (i + 5 <= h->len && d[i + 4] == '/') {
			h->t = SL_T_PATH;
			return 5 + sl_http_path(h, d, i + 5);
		}
		return 4;
	}
	if (st == SL_H_VERSION && h->k == 0) {
		n = sl_http_version(h, d, i);
		if (n)
			return n;
	}
byte:
	sl_http_byte(h, d[i], i);
	return 1;
}

static void sl_http_init(struct sl_http *h, const struct sl_config *cfg,
			 sl_u32 len)
{
	/* field by field: a memset() of the struct is a call on ARMv7 */
	h->len = len;
	h->pos = 0;
	h->default_body = cfg->default_body;
	h->max_body = cfg->max_body;
	h->v = 0;
	h->path = 0;
	h->size = 0;
	h->w = 0;
	h->r.status = 400;
	h->r.head = 0;
	h->r.mode = SL_MODE_CLOSE;
	h->r.complete = 0;
	h->r.pipelined = 0;
	h->r.body = 0;
	h->st = SL_H_LEAD;
	h->t = SL_T_FIRST;
	h->k = 0;
	h->n = 0;
	h->m = 0;
	h->f = 0;
	h->line = 0;
}

/* sl_http_init() sets every field: a field added to struct sl_http needs it there too. */
_Static_assert(sizeof(struct sl_http) == 8 * 4 + sizeof(struct sl_request) + 8,
	       "struct sl_http changed: set the new field in sl_http_init()");

#ifdef SL_BPF
/* bpf_loop() context: what the verifier must know are pointers. */
struct sl_http_ctx {
	const sl_u8 *d;
	struct sl_http *h;
};

/*
 * bpf_loop() callback: one step. The state is in map memory, of which the
 * verifier knows no value: the states it walks this body in converge at
 * once, where a loop would be walked byte by byte, on every path, with
 * every parser state it carries (xdp/README.md).
 */
static long sl_http_cb(sl_u32 idx, void *ctx)
{
	const struct sl_http_ctx *c = ctx;
	struct sl_http *h = c->h;
	sl_u32 i = h->pos;

	if (i >= SL_FRAME_MAX || i >= h->len || h->st == SL_H_DONE)
		return 1;
	h->pos = i + sl_http_step(h, c->d, i);
	return 0;
}

int sl_parse_request(const struct sl_config *cfg, const sl_u8 *d,
		     sl_u32 len, struct sl_request *req)
{
	struct sl_http_ctx c;

	c.d = d;
	c.h = sl_bpf_parser_state(sizeof(*c.h));
	if (!c.h || len > SL_FRAME_MAX)
		return -1;
	sl_http_init(c.h, cfg, len);
	sl_bpf_loop(len, sl_http_cb, &c);
	*req = c.h->r;
	return c.h->line ? 0 : -1;
}
#else
int sl_parse_request(const struct sl_config *cfg, const sl_u8 *d,
		     sl_u32 len, struct sl_request *req)
{
	struct sl_http h;
	sl_u32 i;

	sl_http_init(&h, cfg, len);
	for (i = 0; i < len && h.st != SL_H_DONE;)
		i += sl_http_step(&h, d, i);
	*req = h.r;
	return h.line ? 0 : -1;
}
#endif
