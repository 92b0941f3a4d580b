/* SPDX-License-Identifier: GPL-2.0-only OR MIT */
/*
 * SLHTTPD protocol core: a stateless HTTP/1.x server over TCP/IPv4.
 *
 * Freestanding C: no libc and no kernel headers. The same files build into
 * the ndiv kernel module (slhttpd/kernel), the userspace frontend
 * (slhttpd/host), the unit tests and the fuzzer. See slhttpd/PROTOCOL.md for
 * the sequence-number state machine.
 *
 * Use:
 *   struct sl_config cfg;     sl_config_init(&cfg); then fill addr, ports...
 *   struct sl_stats st = {0};
 *   struct sl_reply rp;
 *   switch (sl_input(&cfg, &st, &rx, &rp)) {
 *   case SL_PASS:  hand the frame to the stack
 *   case SL_DROP:  free it
 *   case SL_REPLY: while ((len = sl_emit(&cfg, &rp, buf, cap, 0, &ti)))
 *                          transmit(buf, len);
 *   }
 * sl_input() never writes to the received frame; sl_emit() writes only
 * into buf[0..cap). Neither keeps any state between frames.
 *
 * Files (as lwIP's tcp_in/tcp_out): sl_input.c (frame parsing, ARP, ICMP),
 * sl_tcp.c (TCP state: cookie decode, timestamp echo, what a segment gets),
 * sl_http.c (request parsing), sl_layout.c (response headers and
 * segmentation), sl_output.c (sl_emit: the frames), sl_cookie.c (cookie and
 * timestamp MAC), sl_csum.c (checksums), sl_config.c, sl_util.c.
 */
#ifndef SLHTTPD_CORE_H
#define SLHTTPD_CORE_H

typedef __UINT8_TYPE__ sl_u8;
typedef __UINT16_TYPE__ sl_u16;
typedef __UINT32_TYPE__ sl_u32;
typedef __UINT64_TYPE__ sl_u64;
typedef __INT32_TYPE__ sl_s32;

/* Low bits of the server sequence number that carry the protocol state. */
#define SL_STATE_BITS		8
#define SL_STATES		(1u << SL_STATE_BITS)
/* Full body segments a response may have after its head part, per mode. */
#define SL_MAX_SEGS		112
/* Head part (headers + partial body) split points: states reserved. */
#define SL_HEAD_SPLITS		10
/* Segment size classes, coded in the top bits of the ISN. */
#define SL_CLASSES		8
/* Bytes a connection may carry before the server forces close mode. */
#define SL_CONN_SPAN		(1u << 21)
/* Largest body any configuration may serve (the limit for MSS 1460). */
#define SL_BODY_LIMIT		(128u * 1024u)
/*
 * Most segments one received frame releases (PROTOCOL.md "Authentication"):
 * with a fresh timestamp echo; without timestamps; with a valid echo that is
 * not fresh; and what a retransmission (client data mid-response) without
 * a fresh echo gets.
 */
#define SL_BURST_MAX		48
#define SL_BURST_PLAIN		10
#define SL_BURST_STALE		2
#define SL_BURST_RESEND		1
/*
 * Segments of a request's first flight (sl_config.first_flight), when the
 * sender cache records the response: RFC 6928's initial window, which
 * RFC 9411's emulated servers use. The client's ACKs release the rest.
 */
#define SL_FIRST_FLIGHT_DEFAULT	10
/*
 * Our timestamp clock: ticks of 2^SL_TS_TICK_SHIFT ms of sl_rx.now, of which
 * the TSval carries SL_TS_TICK_BITS. An echo at most SL_TS_FRESH_TICKS old
 * is fresh (< 1.5 s); from SL_TS_PAWS_TICKS on (102 s), our clock would
 * look older to the client's PAWS check than the echo: its data gets an RST.
 */
#define SL_TS_TICK_SHIFT	9
#define SL_TS_TICK_BITS		9
#define SL_TS_FRESH_TICKS	2
#define SL_TS_PAWS_TICKS	200
/* RSTs per second to blind frames, unless configured (cfg->rst_limit). */
#define SL_RST_LIMIT_DEFAULT	1000
/*
 * --mode xdp (../xdp): whether the XDP program parses requests, its
 * sl_opts_map[0] (slhttpd-host --xdp-requests). AUTO: as ON until a buffer
 * cannot grow to a full frame; the program then sets OFF itself.
 */
#define SL_XDP_REQ_OFF		0
#define SL_XDP_REQ_ON		1
#define SL_XDP_REQ_AUTO		2
/* Frame size limits: Ethernet + IPv4 + TCP headers and payload. */
#define SL_HDRS_LEN		(14 + 20 + 20)
#define SL_MSS_MIN		64
#define SL_MSS_MAX		1460
#define SL_FRAME_MAX		(SL_HDRS_LEN + SL_MSS_MAX)
/* Longest response header block (status line to the blank line). */
#define SL_RESP_HDR_MAX		512

enum sl_verdict {
	SL_PASS = 0,		/* not for us: give it to the stack */
	SL_DROP = 1,		/* for us, nothing to send: free it */
	SL_REPLY = 2,		/* call sl_emit() until it returns 0 */
	SL_USER = 3,		/* only from the BPF build (SL_BPF, xdp/): a
				 * path it leaves out; give the frame to the
				 * full core in userspace */
};

/* What the NIC already verified, in sl_rx.flags. */
#define SL_RX_IP_CSUM_OK	(1u << 0)
#define SL_RX_L4_CSUM_OK	(1u << 1)

/* sl_emit() txflags: leave the TCP checksum to the NIC (see sl_txinfo). */
#define SL_TX_CSUM_OFFLOAD	(1u << 0)

/* sl_config.flags */
#define SL_CFG_ARP		(1u << 0)	/* answer ARP for addr */
#define SL_CFG_FAST_CLOSE	(1u << 1)	/* RST instead of the last ACK */
#define SL_CFG_ICMP_ECHO	(1u << 2)	/* answer ping for addr */

/*
 * Optional memory of answered requests (one entry per hash bucket of the
 * connection): it lets a request that the client retransmits after the
 * whole response arrived (our ACK of it was lost) get an ACK instead of a
 * second response. Lossy by design: a bucket reused by another connection
 * only loses that protection. Nothing else depends on it.
 */
struct sl_answered {
	sl_u32 key;		/* connection hash, 0: empty */
	sl_u32 req_end;		/* client sequence number after the request */
	sl_u32 resp_end;	/* our sequence number after the response */
	/*
	 * The sender's view of that response (PROTOCOL.md "The sender
	 * cache"): every segment ending at or before `sent` was sent; `last`
	 * is the last mid-response ACK as ack ^ window << 16, `dups` its
	 * copies since; partial ACKs below `recover` resend their hole.
	 */
	sl_u32 sent;
	sl_u32 last;
	sl_u32 recover;
	sl_u32 dups;
	/*
	 * A multiple of 8 bytes: in --mode xdp the table is a BPF array map
	 * that both cores use, and a BPF array spaces its values a multiple
	 * of 8 bytes apart (in the mmapped map too). At 12 bytes userspace's
	 * entry i was not the program's entry i (xdp/README.md).
	 */
	sl_u32 pad;
};
_Static_assert(sizeof(struct sl_answered) % 8 == 0,
	       "struct sl_answered: BPF array maps space values by 8 bytes");

struct sl_config {
	sl_u32 addr;		/* served IPv4 address, host order; 0: any */
	sl_u8 mac[6];		/* our MAC: the only destination we answer,
				 * the source of every frame we emit */
	sl_u16 mss;		/* our MSS (TCP payload per frame) */
	sl_u16 window;		/* receive window we advertise */
	sl_u8 ttl;
	sl_u8 flags;		/* SL_CFG_* */
	sl_u32 max_body;	/* largest object served, <= SL_BODY_LIMIT */
	sl_u32 default_body;	/* body size for "/" */
	sl_u8 secret[16];	/* cookie and timestamp MAC key: random */
	sl_u32 rst_limit;	/* RSTs per second to frames without a valid
				 * cookie or echo (blind frames); 0: none */
	sl_u32 first_flight;	/* most segments a request releases while
				 * the sender cache holds its response
				 * (1..SL_BURST_MAX); 0: its burst */
	sl_u8 ports[8192];	/* bitmap of served TCP ports */
	/*
	 * NULL, or answered_mask + 1 entries. In a union with a u64: in
	 * --mode xdp this struct is a BPF map value that the XDP program
	 * (8-byte pointers) and slhttpd-host (4-byte pointers on armhf, the
	 * virtual board) share byte for byte; the BPF build only tests it
	 * against 0 (the pointer is in the low half, the high half is 0).
	 */
	union {
		struct sl_answered *answered;
		sl_u64 answered_u64;
	};
	sl_u32 answered_mask;		/* a power of two less one */
	/* Derived by sl_config_finish(), per segment size class: */
	sl_u16 cls_mss[SL_CLASSES];	/* MSS the class stands for */
	sl_u16 cls_seg[SL_CLASSES];	/* segment payload size (odd) */
	sl_u8 cls_inv[SL_CLASSES];	/* its inverse mod SL_STATES */
	sl_u8 cls_tclose[SL_CLASSES];	/* first close-mode state */
	sl_u8 cls_tfin_ka[SL_CLASSES];	/* after our FIN, keep-alive */
	sl_u8 cls_tfin_cl[SL_CLASSES];	/* after our FIN, close mode */
	sl_u32 cls_recip[SL_CLASSES];	/* ceil(2^32 / segment size) */
};

/*
 * The same layout for 4- and 8-byte pointers: the union is 8 bytes and, at an
 * offset that is a multiple of 8, no ABI pads it differently (i386, which
 * aligns a u64 to 4, would place it elsewhere than BPF does).
 */
_Static_assert(__builtin_offsetof(struct sl_config, answered) % 8 == 0,
	       "struct sl_config: the XDP program and slhttpd-host share its layout");

/* Counters; names in sl_counter_name(). */
enum sl_counter {
	SL_C_RX,		/* frames looked at */
	SL_C_PASS,		/* handed to the stack */
	SL_C_SYN,		/* SYN answered with a SYN-ACK */
	SL_C_REQ_KEEPALIVE,	/* requests answered, keep-alive mode */
	SL_C_REQ_CLOSE,		/* requests answered, close mode */
	SL_C_REQ_RETRANS,	/* retransmitted requests answered mid-response */
	SL_C_HEAD,		/* HEAD requests */
	SL_C_ERR_400,
	SL_C_ERR_404,
	SL_C_ERR_405,
	SL_C_ERR_413,
	SL_C_SPLIT,		/* request without its end: answered in close mode */
	SL_C_PIPELINED,		/* more than one request in a segment */
	SL_C_CONT,		/* ACKs that released more segments */
	SL_C_ACK_END,		/* final ACKs answered with an ACK */
	SL_C_DUP_REQ,		/* answered request retransmitted: ACK only */
	SL_C_FIN,		/* client FINs answered */
	SL_C_RST_SENT,		/* RSTs sent */
	SL_C_RST_RCVD,		/* RSTs received (never answered) */
	SL_C_ARP,		/* ARP requests answered */
	SL_C_ICMP,		/* echo requests answered */
	SL_C_TX_FRAMES,		/* frames emitted */
	SL_C_TX_BYTES,		/* TCP payload bytes emitted */
	SL_C_DROP_TRUNC,	/* shorter than its headers say */
	SL_C_DROP_BAD_IP,	/* bad version, IHL, length */
	SL_C_DROP_BAD_TCP,	/* bad data offset, options, flags */
	SL_C_DROP_CSUM,		/* IP or TCP checksum wrong */
	SL_C_DROP_FRAG,		/* IP fragments */
	SL_C_BAD_COOKIE,	/* ACK without a valid handshake cookie: RST */
	SL_C_BAD_STATE,		/* sequence state not one we produce: RST */
	SL_C_DROP_WINDOW,	/* window too small to send anything */
	SL_C_DROP_ACK,		/* plain ACKs needing nothing */
	SL_C_DROP_ADDR,		/* to us from a source we never answer */
	SL_C_BAD_ECHO,		/* timestamp echo not ours (or too old) */
	SL_C_STALE_ECHO,	/* valid echo, not fresh: small bursts only */
	SL_C_RST_LIMITED,	/* RSTs not sent: over cfg->rst_limit */
	SL_C_DUP_ACK,		/* mid-response duplicate ACKs: nothing sent */
	SL_C_FAST_RETRANS,	/* segments resent at a duplicate or partial ACK */
	SL_C_MAX
};

struct sl_stats {
	sl_u64 c[SL_C_MAX];
	/* the RST rate limit (cfg->rst_limit) of whoever owns this struct */
	sl_u32 rst_second;	/* sl_rx.now >> 10 of the last counted RST */
	sl_u32 rst_count;	/* RSTs sent in that second */
};

struct sl_rx {
	const sl_u8 *data;	/* Ethernet frame, no FCS */
	sl_u32 len;
	sl_u32 flags;		/* SL_RX_* */
	sl_u32 now;		/* a millisecond clock (any origin, wraps) */
};

/* Per emitted frame: what a driver needs for checksum offload. */
struct sl_txinfo {
	sl_u16 csum_start;	/* offset of the TCP header in the frame */
	sl_u16 csum_offset;	/* offset of its checksum field from there */
	sl_u8 csum_partial;	/* 1: field holds the pseudo-header sum only */
};

/*
 * A reply plan, filled by sl_input(): the addresses, sequence numbers and
 * segment range to emit. Small, on the caller's stack; opaque to callers.
 */
struct sl_reply {
	sl_u8 eth_dst[6];	/* the sender's MAC (ours is cfg->mac) */
	sl_u32 saddr, daddr;	/* reply direction, host order */
	sl_u16 sport, dport;
	sl_u8 kind;		/* what to emit (internal) */
	sl_u8 tcp_flags;	/* control segment flags */
	sl_u8 fin;		/* FIN after the response's last byte */
	sl_u8 mss_opt;		/* SYN-ACK: send our MSS option */
	sl_u8 ts;		/* send the timestamp option */
	sl_u32 tsval, tsecr;
	sl_u32 seq, ack;	/* control segment; ack of response frames */
	sl_u32 ack_last;	/* ack of the response's last segment */
	sl_u32 end_seq;		/* sequence number after the response */
	sl_u32 resp_len;	/* header + body bytes (0: not known) */
	sl_u32 head_len;	/* head part: headers + first partial body */
	sl_u32 body;		/* body bytes sent (0 for HEAD) */
	sl_u32 cur;		/* distance to end_seq of the next byte */
	sl_u32 stop;		/* emit segments while cur > stop */
	sl_u16 seg;		/* full segment payload */
	sl_u16 hdr_len;
	sl_u32 recip;		/* ceil(2^32 / seg): x / seg without a division */
	sl_u8 hdr[SL_RESP_HDR_MAX];
	const sl_u8 *echo;	/* ARP/ICMP: the request (points into rx) */
	sl_u32 echo_len;
};

void sl_config_init(struct sl_config *cfg);
/* Check the configuration and derive its tables; 0, or -1 if invalid. */
int sl_config_finish(struct sl_config *cfg);
/* Parse "80,8000-8999" into cfg->ports; 0 on success, -1 on bad syntax. */
int sl_ports_parse(struct sl_config *cfg, const char *spec, sl_u32 len);
int sl_port_served(const struct sl_config *cfg, sl_u16 port);

enum sl_verdict sl_input(const struct sl_config *cfg, struct sl_stats *st,
			 const struct sl_rx *rx, struct sl_reply *rp);
sl_u32 sl_emit(const struct sl_config *cfg, struct sl_stats *st,
	       struct sl_reply *rp, sl_u8 *buf, sl_u32 cap, sl_u32 txflags,
	       struct sl_txinfo *ti);

/*
 * 0 if the next sl_emit() on rp returns 0 (the reply is complete), else 1
 * (it may return a frame): a frontend that sends single-frame answers
 * itself (XDP_TX) hands the others on without emitting the second frame.
 */
int sl_emit_more(const struct sl_reply *rp);

const char *sl_counter_name(enum sl_counter c);

#endif /* SLHTTPD_CORE_H */
