// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * AF_PACKET I/O for the userspace frontend.
 *
 * Receive: a TPACKET_V2 ring mapped into our memory. poll() wakes us when at
 * least one frame is ready, then every ready frame is consumed without a
 * system call. (TPACKET_V3 is avoided on purpose: it wakes the reader only
 * when a block is full or its timer fires, which adds up to the timer's
 * period to every request of a lightly loaded connection.)
 *
 * Transmit: frames are built by the core directly into a batch of buffers and
 * handed to the kernel with one sendmmsg() per batch (a whole TCP window of a
 * response, or the replies to every frame read in one wake-up). A mapped TX
 * ring is not used: on a veth the peer namespace orphans the skb (releasing
 * the ring slot) while its pages are still queued on the client's socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frontend.h"

#define RING_FRAME_SIZE		2048u
#define RING_BLOCK_SIZE		(64u * 1024u)
#define RING_BLOCK_NR		64u

static int fail(char *err, size_t errlen, const char *what, const char *hint)
{
	snprintf(err, errlen, "%s: %s%s%s", what, strerror(errno),
		 hint ? ": " : "", hint ? hint : "");
	return -1;
}

int fe_port_open(struct fe_port *p, const char *ifname, char *err, size_t errlen)
{
	struct tpacket_req req;
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int one = 1, ver = TPACKET_V2, sndbuf = 4 << 20;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (strlen(ifname) >= IFNAMSIZ) {
		errno = ENAMETOOLONG;
		return fail(err, errlen, ifname, "interface names have at most 15 characters");
	}
	p->fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (p->fd < 0)
		return fail(err, errlen, "socket(AF_PACKET)",
			    "run as root or with CAP_NET_RAW (e.g. sudo, or setcap cap_net_raw+ep)");

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(p->fd, SIOCGIFINDEX, &ifr) < 0)
		return fail(err, errlen, ifname,
			    "no such interface in this network namespace (check `ip link`)");
	p->ifindex = ifr.ifr_ifindex;
	if (ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0)
		return fail(err, errlen, "SIOCGIFHWADDR", NULL);
	if (ifr.ifr_hwaddr.sa_family != 1 /* ARPHRD_ETHER */) {
		errno = EPROTONOSUPPORT;
		return fail(err, errlen, ifname, "not an Ethernet interface");
	}
	memcpy(p->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(p->fd, SIOCGIFMTU, &ifr) < 0)
		return fail(err, errlen, "SIOCGIFMTU", NULL);
	p->mtu = (unsigned int)ifr.ifr_mtu;
	if (ioctl(p->fd, SIOCGIFFLAGS, &ifr) < 0)
		return fail(err, errlen, "SIOCGIFFLAGS", NULL);
	if (!(ifr.ifr_flags & IFF_UP)) {
		errno = ENETDOWN;
		return fail(err, errlen, ifname, "interface is down (ip link set dev NAME up)");
	}

	if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &ver, sizeof(ver)) < 0)
		return fail(err, errlen, "PACKET_VERSION", NULL);
	/* Our own transmissions are not input. */
	if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return fail(err, errlen, "PACKET_IGNORE_OUTGOING", "needs Linux >= 4.20");
	if (setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		return fail(err, errlen, "SO_SNDBUF", NULL);

	memset(&req, 0, sizeof(req));
	req.tp_block_size = RING_BLOCK_SIZE;
	req.tp_block_nr = RING_BLOCK_NR;
	req.tp_frame_size = RING_FRAME_SIZE;
	req.tp_frame_nr = RING_BLOCK_SIZE / RING_FRAME_SIZE * RING_BLOCK_NR;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		return fail(err, errlen, "PACKET_RX_RING", NULL);
	p->frame_size = req.tp_frame_size;
	p->frame_nr = req.tp_frame_nr;
	p->ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
	p->ring = mmap(NULL, p->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
	if (p->ring == MAP_FAILED) {
		p->ring = NULL;
		return fail(err, errlen, "mmap(rx ring)", NULL);
	}

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return fail(err, errlen, "bind(AF_PACKET)", NULL);

	p->tx_buf = calloc(FE_TX_BATCH, sizeof(*p->tx_buf));
	if (!p->tx_buf)
		return fail(err, errlen, "calloc(tx batch)", NULL);
	for (unsigned int i = 0; i < FE_TX_BATCH; i++) {
		p->tx_iov[i].iov_base = p->tx_buf[i];
		p->tx_msg[i].msg_hdr.msg_iov = &p->tx_iov[i];
		p->tx_msg[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* --mode xdp: the interface checks above, then an AF_XDP socket instead. */
int fe_port_open_xdp(struct fe_port *p, const char *ifname, const char *obj_path,
		     int flags, unsigned int nq, char *err, size_t errlen)
{
	if (fe_port_open(p, ifname, err, errlen) < 0)
		return -1;
	munmap(p->ring, p->ring_len);
	p->ring = NULL;
	close(p->fd);
	p->fd = -1;
	return fe_xsk_open(p, ifname, obj_path, flags, nq, err, errlen);
}

void fe_port_close(struct fe_port *p)
{
	fe_xsk_close(p);
	if (p->ring)
		munmap(p->ring, p->ring_len);
	if (p->fd >= 0)
		close(p->fd);
	free(p->tx_buf);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static struct tpacket2_hdr *rx_frame(struct fe_port *p, unsigned int i)
{
	return (struct tpacket2_hdr *)(p->ring + (size_t)i * p->frame_size);
}

const uint8_t *fe_rx_next(struct fe_port *p, uint32_t *len, uint32_t *flags,
			  struct fe_stats *fs)
{
	if (p->xsk)
		return fe_xsk_rx_next(p, len, flags, fs);
	for (;;) {
		struct tpacket2_hdr *h = rx_frame(p, p->rx_next);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

		if (!(status & TP_STATUS_USER))
			return NULL;
		fs->c[FE_RX_FRAMES]++;
		if (h->tp_snaplen < h->tp_len || (status & TP_STATUS_VLAN_VALID)) {
			/* Cut by the slot size, or its VLAN tag was stripped. */
			fs->c[FE_RX_OVERSIZE]++;
			fe_rx_release(p);
			continue;
		}
		*len = h->tp_snaplen;
		*flags = 0;
		/*
		 * CSUMNOTREADY: built by the local stack with the TCP checksum
		 * left to offload (veth); CSUM_VALID: verified below us. Both
		 * are what a NIC reports as a verified L4 checksum.
		 */
		if (status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID))
			*flags |= SL_RX_L4_CSUM_OK;
		return (const uint8_t *)h + h->tp_mac;
	}
}

void fe_rx_release(struct fe_port *p)
{
	struct tpacket2_hdr *h;

	if (p->xsk) {
		fe_xsk_rx_release(p);
		return;
	}
	h = rx_frame(p, p->rx_next);
	__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	p->rx_next = (p->rx_next + 1) % p->frame_nr;
}

uint8_t *fe_tx_slot(struct fe_port *p, struct fe_stats *fs)
{
	if (p->xsk)
		return fe_xsk_tx_slot(p, fs);
	if (p->tx_count == FE_TX_BATCH)
		fe_tx_flush(p, fs);
	return p->tx_buf[p->tx_count];
}

void fe_tx_commit(struct fe_port *p, uint32_t len, struct fe_stats *fs)
{
	if (p->xsk) {
		fe_xsk_tx_commit(p, len, fs);
		return;
	}
	p->tx_len[p->tx_count++] = len;
}

void fe_tx_flush(struct fe_port *p, struct fe_stats *fs)
{
	unsigned int done = 0, tries = 0;

	if (p->xsk) {
		fe_xsk_tx_flush(p, fs);
		return;
	}
	for (unsigned int i = 0; i < p->tx_count; i++)
		p->tx_iov[i].iov_len = p->tx_len[i];
	/* Bounded: each round sends at least one frame or drops one. */
	while (done < p->tx_count && tries++ < 2 * FE_TX_BATCH) {
		int n = sendmmsg(p->fd, p->tx_msg + done, p->tx_count - done, 0);

		fs->c[FE_TX_CALLS]++;
		if (n > 0) {
			done += (unsigned int)n;
			fs->c[FE_TX_FRAMES] += (unsigned int)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			/* The kernel refused this frame (no buffer): a lost frame. */
			done++;
			fs->c[FE_TX_ERRORS]++;
		}
	}
	p->tx_count = 0;
}

uint64_t fe_ring_drops(struct fe_port *p)
{
	struct tpacket_stats ts;
	socklen_t l = sizeof(ts);

	if (p->xsk)
		return fe_xsk_ring_drops(p);
	if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &l) < 0)
		return 0;
	return ts.tp_drops;
}

unsigned int fe_poll_fds(struct fe_port *p, struct pollfd *pfd, unsigned int max)
{
	if (p->xsk)
		return fe_xsk_poll_fds(p, pfd, max);
	if (!max)
		return 0;
	pfd[0] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
	return 1;
}
