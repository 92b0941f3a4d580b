// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* SLHTTPD core: the body pattern, small arithmetic. */
#include "sl_internal.h"

#define SL_LINE "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n"
#define SL_LINE4 SL_LINE SL_LINE SL_LINE SL_LINE

const char sl_body_line[65] = SL_LINE;
/*
 * The line 24 times: any body run of a segment is one copy from here. Line
 * aligned, so that a copy's source alignment is its line offset's, not an
 * accident of the link (memcpy's path, and its cost, depend on it).
 */
_Alignas(64) const char sl_body_run[SL_BODY_RUN + 1] =
	SL_LINE4 SL_LINE4 SL_LINE4 SL_LINE4 SL_LINE4 SL_LINE4;

sl_u8 sl_inv8(sl_u8 odd)
{
	sl_u32 x = odd;	/* correct to 3 bits for any odd number */
	int i;

	for (i = 0; i < 3; i++)	/* Newton: each step doubles the bits */
		x = x * (2u - odd * x);
	return (sl_u8)x;
}
