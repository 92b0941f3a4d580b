/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * The reference for the request parser (core/sl_http.c): the parser the core
 * had before its state machine (a line at a time, several passes over the
 * request line), kept here only as the oracle core-tests and the fuzzer
 * compare the core's parser with, field by field. Not built into anything
 * else.
 */
#include "../core/sl_internal.h"

static int ref_is_tchar(sl_u8 c)
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

static sl_u8 ref_lower(sl_u8 c)
{
	return (c >= 'A' && c <= 'Z') ? (sl_u8)(c + 32) : c;
}

/* Case-insensitive: does p[0..n) start with the lowercase word w? */
static int ref_prefix(const sl_u8 *p, sl_u32 n, const char *w)
{
	sl_u32 i;

	for (i = 0; w[i]; i++)
		if (i >= n || ref_lower(p[i]) != (sl_u8)w[i])
			return 0;
	return 1;
}

static int ref_equal(const sl_u8 *p, sl_u32 n, const char *w)
{
	sl_u32 i;

	for (i = 0; w[i]; i++)
		if (i >= n || p[i] != (sl_u8)w[i])
			return 0;
	return i == n;
}

/*
 * A size: digits with an optional k or m suffix (x1024, x1048576), exactly
 * p[0..n). Returns 0 and the size (saturated past 2^31), or -1.
 */
static int ref_parse_size(const sl_u8 *p, sl_u32 n, sl_u32 *out)
{
	sl_u64 v = 0;
	sl_u32 i = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9') {
		v = v * 10 + (p[i] - '0');
		if (v > 0x80000000ull)
			v = 0x80000000ull;
		i++;
	}
	if (i == 0)
		return -1;
	if (i + 1 == n && ref_lower(p[i]) == 'k')
		v <<= 10;
	else if (i + 1 == n && ref_lower(p[i]) == 'm')
		v <<= 20;
	else if (i != n)
		return -1;
	*out = v > 0x80000000ull ? 0x80000000u : (sl_u32)v;
	return 0;
}

/*
 * The object size a target asks for: 0 and the size, or the HTTP error.
 * "s=" in the query wins whatever the path (httpterm style); otherwise the
 * path is "/" (default size) or "/<size>".
 */
static int ref_target_size(const struct sl_config *cfg, const sl_u8 *u,
			   sl_u32 n, sl_u32 *size)
{
	sl_u32 q = 0, i, start;
	int found = 0;

	while (q < n && u[q] != '?')
		q++;
	for (i = q + 1; i < n; i = start + 1) {
		start = i;
		while (start < n && u[start] != '&')
			start++;
		if (start - i >= 2 && u[i] == 's' && u[i + 1] == '=') {
			if (ref_parse_size(u + i + 2, start - i - 2, size))
				return 400;
			found = 1;
		}
	}
	if (!found) {
		if (q == 1)
			*size = cfg->default_body;
		else if (ref_parse_size(u + 1, q - 1, size))
			return 404;
	}
	if (*size > cfg->max_body)
		return 413;
	return 0;
}

/*
 * Find the end of the line starting at i: index of its '\n', or len. Four
 * bytes at a time: a word has a '\n' iff w ^ 0x0a0a0a0a has a zero byte.
 */
static sl_u32 ref_eol(const sl_u8 *d, sl_u32 len, sl_u32 i)
{
	sl_u32 w;

	while (i + 4 <= len) {
		__builtin_memcpy(&w, d + i, 4);
		w ^= 0x0a0a0a0au;
		if ((w - 0x01010101u) & ~w & 0x80808080u)
			break;
		i += 4;
	}
	while (i < len && d[i] != '\n')
		i++;
	return i;
}

static void ref_connection_header(const sl_u8 *v, sl_u32 n,
				  struct sl_request *req)
{
	sl_u32 i = 0, s;
	int close = 0;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i - s == 5 && ref_prefix(v + s, 5, "close")) {
			req->mode = SL_MODE_CLOSE;
			close = 1;
		} else if (i - s == 10 && ref_prefix(v + s, 10, "keep-alive") &&
			   !close) {
			req->mode = SL_MODE_KEEPALIVE;
		}
	}
}

static int ref_parse_request(const struct sl_config *cfg, const sl_u8 *d,
			     sl_u32 len, struct sl_request *req)
{
	sl_u32 eol, end, i, m, u, ul, v;
	int http11, err;

	req->status = 400;
	req->head = 0;
	req->mode = SL_MODE_CLOSE;
	req->complete = 0;
	req->pipelined = 0;
	req->body = 0;

	/* RFC 9112: ignore empty lines before the request line */
	while (len && (d[0] == '\r' || d[0] == '\n')) {
		d++;
		len--;
	}
	eol = ref_eol(d, len, 0);
	if (eol == len)
		return -1;
	end = (eol > 0 && d[eol - 1] == '\r') ? eol - 1 : eol;

	/* method */
	for (m = 0; m < end && ref_is_tchar(d[m]); m++)
		;
	if (m == 0 || m >= end || d[m] != ' ')
		goto headers;
	/* target */
	u = m + 1;
	for (i = u; i < end && d[i] != ' '; i++)
		if (d[i] < 0x21 || d[i] == 0x7f)
			break;
	if (i >= end || d[i] != ' ')
		goto headers;
	ul = i - u;
	/* version */
	v = i + 1;
	if (ref_equal(d + v, end - v, "HTTP/1.1"))
		http11 = 1;
	else if (ref_equal(d + v, end - v, "HTTP/1.0"))
		http11 = 0;
	else
		goto headers;
	req->mode = http11 ? SL_MODE_KEEPALIVE : SL_MODE_CLOSE;

	/* absolute form: http://host[:port]/path */
	if (ul > 7 && ref_prefix(d + u, 7, "http://")) {
		i = 7;
		while (i < ul && d[u + i] != '/')
			i++;
		if (i == ul)
			goto headers;
		u += i;
		ul -= i;
	}
	if (ul == 0 || d[u] != '/')
		goto headers;

	if (ref_equal(d, m, "GET")) {
		req->head = 0;
	} else if (ref_equal(d, m, "HEAD")) {
		req->head = 1;
	} else {
		req->status = 405;
		goto headers;
	}
	err = ref_target_size(cfg, d + u, ul, &req->body);
	req->status = err ? (sl_u16)err : 200;

headers:
	/* header lines until an empty one */
	for (i = eol + 1; i < len; i = eol + 1) {
		eol = ref_eol(d, len, i);
		if (eol == len)
			return 0;	/* incomplete */
		end = (eol > i && d[eol - 1] == '\r') ? eol - 1 : eol;
		if (end == i) {
			req->complete = 1;
			req->pipelined = eol + 1 < len;
			return 0;
		}
		if (end - i > 11 && ref_prefix(d + i, 11, "connection:"))
			ref_connection_header(d + i + 11, end - i - 11, req);
	}
	return 0;
}

/* The parser's result and the reference's: 1 if every field agrees. */
static inline int ref_agrees(int ra, const struct sl_request *a, int rb,
			     const struct sl_request *b)
{
	return ra == rb && a->status == b->status && a->head == b->head &&
	       a->mode == b->mode && a->complete == b->complete &&
	       a->pipelined == b->pipelined && a->body == b->body;
}

/*
 * Both parsers on the same bytes (results poisoned apart first, so that a
 * field one leaves unset differs): 1 if every field agrees.
 */
static inline int ref_parse_both(const struct sl_config *cfg, const sl_u8 *d,
				 sl_u32 len, int *ra, struct sl_request *a,
				 int *rb, struct sl_request *b)
{
	__builtin_memset(a, 0xa5, sizeof(*a));
	__builtin_memset(b, 0x5a, sizeof(*b));
	*ra = sl_parse_request(cfg, d, len, a);
	*rb = ref_parse_request(cfg, d, len, b);
	return ref_agrees(*ra, a, *rb, b);
}
