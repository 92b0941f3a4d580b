// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * Raw SYN generator for bench/run_bench.py: SYN frames (checksummed, MSS and
 * timestamp options, a new source port each) sent with sendmmsg() on an
 * AF_PACKET socket, for a given number of seconds or frames, whichever ends
 * first. Run it only inside the benchmark's client namespace.
 *
 *   syn_gen IFACE SRC_MAC DST_MAC SRC_IP DST_IP DPORT SECONDS MAX_FRAMES
 *
 * Prints "sent N seconds S". The source address should be one nobody owns on
 * the client side, so that its kernel drops the SYN-ACKs instead of answering
 * them with RSTs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH	64
#define FLEN	(14 + 20 + 20 + 20)

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int parse_mac(const char *s, uint8_t m[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

static void build(uint8_t *f, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip,
		  uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	uint32_t ps;

	memset(f, 0, FLEN);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = 60;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	uint16_t c = csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	th[0] = (uint8_t)(sport >> 8);
	th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8);
	th[3] = (uint8_t)dport;
	th[4] = (uint8_t)(seq >> 24);
	th[5] = (uint8_t)(seq >> 16);
	th[6] = (uint8_t)(seq >> 8);
	th[7] = (uint8_t)seq;
	th[12] = 10 << 4;
	th[13] = 0x02;
	th[14] = 0xff;
	th[15] = 0xff;
	/* MSS 1460, SACK permitted, timestamps, NOP, window scale 7 */
	static const uint8_t opt[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
					 1, 3, 3, 7 };
	memcpy(th + 20, opt, 20);
	ps = ntohl(sip);
	uint32_t sum = (ps >> 16) + (ps & 0xffff);
	ps = ntohl(dip);
	sum += (ps >> 16) + (ps & 0xffff) + 6 + 40;
	c = csum(th, 40, sum);
	th[16] = (uint8_t)(c >> 8);
	th[17] = (uint8_t)c;
}

int main(int argc, char **argv)
{
	static uint8_t frames[BATCH][FLEN];
	struct mmsghdr msg[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll sll;
	uint8_t smac[6], dmac[6];
	struct in_addr sip, dip;
	struct timespec t0, t1;
	unsigned long long sent = 0, max;
	double secs, el = 0;
	uint16_t sport = 1024;
	int fd;

	if (argc != 9 || parse_mac(argv[2], smac) || parse_mac(argv[3], dmac) ||
	    inet_pton(AF_INET, argv[4], &sip) != 1 || inet_pton(AF_INET, argv[5], &dip) != 1) {
		fprintf(stderr, "usage: syn_gen IFACE SRC_MAC DST_MAC SRC_IP DST_IP DPORT SECONDS "
			"MAX_FRAMES\n");
		return 2;
	}
	secs = atof(argv[7]);
	max = strtoull(argv[8], NULL, 10);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		perror("socket(AF_PACKET)");
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (!sll.sll_ifindex || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		iov[i].iov_len = FLEN;
		memset(&msg[i], 0, sizeof(msg[i]));
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* bounded: by max frames and by time */
	while (sent < max && el < secs) {
		for (int i = 0; i < BATCH; i++) {
			build(frames[i], smac, dmac, sip.s_addr, dip.s_addr, sport,
			      (uint16_t)atoi(argv[6]), (uint32_t)sent * 7919u + (uint32_t)i);
			sport = sport == 65535 ? 1024 : sport + 1;
		}
		int n = sendmmsg(fd, msg, BATCH, 0);

		if (n > 0)
			sent += (unsigned long long)n;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		el = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	printf("sent %llu seconds %.3f\n", sent, el);
	return 0;
}
