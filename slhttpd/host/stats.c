// SPDX-License-Identifier: GPL-2.0-only OR MIT
/* Counters of the userspace frontend: text for people, JSON for tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

static const char *const fe_names[FE_MAX] = {
	[FE_RX_FRAMES] = "rx_frames",
	[FE_RX_OVERSIZE] = "rx_oversize",
	[FE_RX_RING_DROPS] = "rx_ring_drops",
	[FE_TX_FRAMES] = "tx_frames",
	[FE_TX_ERRORS] = "tx_errors",
	[FE_TX_CALLS] = "tx_calls",
	[FE_POLLS] = "polls",
};

static const char *const fe_q_names[FE_Q_MAX] = {
	[FE_Q_RX_FRAMES] = "rx_frames",
	[FE_Q_TX_FRAMES] = "tx_frames",
	[FE_Q_RING_DROPS] = "rx_ring_drops",
};

const char *fe_q_counter_name(enum fe_q_counter c)
{
	return (unsigned int)c < FE_Q_MAX ? fe_q_names[c] : "?";
}

const char *fe_counter_name(enum fe_counter c)
{
	return (unsigned int)c < FE_MAX ? fe_names[c] : "?";
}

static const char *core_name(unsigned int i)
{
	const char *n = sl_counter_name((enum sl_counter)i);

	return n ? n : "?";
}

void fe_stats_print(FILE *out, const struct sl_stats *st, const struct fe_stats *fs)
{
	fprintf(out, "slhttpd counters (core):\n");
	for (unsigned int i = 0; i < SL_C_MAX; i++)
		if (st->c[i])
			fprintf(out, "  %-20s %llu\n", core_name(i),
				(unsigned long long)st->c[i]);
	fprintf(out, "slhttpd counters (frontend):\n");
	for (unsigned int i = 0; i < FE_MAX; i++)
		fprintf(out, "  %-20s %llu\n", fe_counter_name((enum fe_counter)i),
			(unsigned long long)fs->c[i]);
	/* --mode xdp: requests parsed in XDP now (SL_XDP_REQ_*), the socket of each RX queue */
	if (fs->nq && fs->xdp_requests >= 0)
		fprintf(out, "  %-20s %d\n", "xdp_requests", fs->xdp_requests);
	for (unsigned int q = 0; q < fs->nq && q < FE_XSK_QUEUES_MAX; q++) {
		char name[32];

		for (unsigned int i = 0; i < FE_Q_MAX; i++) {
			snprintf(name, sizeof(name), "q%u_%s", q,
				 fe_q_counter_name((enum fe_q_counter)i));
			fprintf(out, "  %-20s %llu\n", name, (unsigned long long)fs->q[q][i]);
		}
	}
	fflush(out);
}

/* Write atomically (temporary file + rename): readers never see half a file. */
int fe_stats_json(const char *path, const struct sl_stats *st, const struct fe_stats *fs)
{
	char tmp[4096];
	FILE *f;
	int r = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());

	if (r < 0 || (size_t)r >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "{\n  \"core\": {");
	for (unsigned int i = 0; i < SL_C_MAX; i++)
		fprintf(f, "%s\n    \"%s\": %llu", i ? "," : "", core_name(i),
			(unsigned long long)st->c[i]);
	fprintf(f, "\n  },\n  \"frontend\": {");
	for (unsigned int i = 0; i < FE_MAX; i++)
		fprintf(f, "%s\n    \"%s\": %llu", i ? "," : "",
			fe_counter_name((enum fe_counter)i), (unsigned long long)fs->c[i]);
	if (fs->nq && fs->xdp_requests >= 0)
		fprintf(f, ",\n    \"xdp_requests\": %d", fs->xdp_requests);
	for (unsigned int q = 0; q < fs->nq && q < FE_XSK_QUEUES_MAX; q++)
		for (unsigned int i = 0; i < FE_Q_MAX; i++)
			fprintf(f, ",\n    \"q%u_%s\": %llu", q,
				fe_q_counter_name((enum fe_q_counter)i),
				(unsigned long long)fs->q[q][i]);
	fprintf(f, "\n  }\n}\n");
	if (fflush(f) != 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}
