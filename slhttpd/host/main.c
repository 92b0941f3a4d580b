// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * slhttpd-host: the SLHTTPD protocol core on one network interface, in
 * userspace, through an AF_PACKET socket (see host/README.md); or, with
 * --mode xdp, behind the XDP program built from the same core (../xdp).
 *
 *   slhttpd-host --iface NAME --addr A.B.C.D [--ports 80,8000-8999] [--mss N]
 *                [--max-body N] [--default-body N] [--window N] [--fast-close]
 *                [--no-arp] [--no-icmp] [--rst-limit N] [--first-flight N]
 *                [--stats-json FILE]
 *                [--allow-local-addr] [--mode afpacket|xdp] [--xdp-obj FILE]
 *                [--xdp-generic] [--xdp-requests[=on|auto|off]] [--queues N]
 *
 * Counters are printed on SIGINT/SIGTERM (then it exits) and on SIGUSR1; with
 * --stats-json they are also written to FILE at start, on SIGUSR1 and at exit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "frontend.h"

/* Frames handled per wake-up before the TX batch is flushed and signals seen. */
#define RX_BUDGET	512
/* Frames one reply may produce: a full window of the smallest segments. */
#define EMIT_MAX	1024

static volatile sig_atomic_t stop_sig;
static volatile sig_atomic_t dump_req;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void on_usr1(int sig)
{
	(void)sig;
	dump_req = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: slhttpd-host --iface NAME --addr A.B.C.D [options]\n"
		"  --ports SPEC        served TCP ports, e.g. 80,8000-8999 (default 80)\n"
		"  --mss N             our MSS, %d..%d (default: interface MTU - 40, at most %d)\n"
		"  --max-body N        largest object served, bytes (default and limit %u)\n"
		"  --default-body N    body size for \"/\" (default 1024)\n"
		"  --window N          receive window advertised (default 65535)\n"
		"  --fast-close        RST instead of the last ACK\n"
		"  --no-arp            do not answer ARP for ADDR (the peer needs a static entry)\n"
		"  --no-icmp           do not answer ping for ADDR\n"
		"  --rst-limit N       RSTs per second to blind frames (bad cookie or echo; "
		"default %u, 0: none)\n"
		"  --first-flight N    segments a request releases while the sender cache\n"
		"                      holds its response, 0..%u (default %u, RFC 6928's\n"
		"                      initial window; 0: the whole burst)\n"
		"  --stats-json FILE   write counters as JSON at start, on SIGUSR1 and at exit\n"
		"  --allow-local-addr  serve ADDR even if a kernel interface here has it\n"
		"  --mode MODE         afpacket (default) or xdp: the core in an XDP program,\n"
		"                      multi-frame answers through AF_XDP sockets, one per RX\n"
		"                      queue (xdp/README.md)\n"
		"  --xdp-obj FILE      the XDP program (default: slhttpd_xdp.o beside this binary;\n"
		"                      slhttpd_xdp_noparse.o where the JIT has no bpf-to-bpf\n"
		"                      calls, e.g. 32-bit ARM)\n"
		"  --xdp-generic       attach in generic (skb) mode: any driver, slower\n"
		"  --xdp-requests[=on|auto|off]\n"
		"                      parse requests in the XDP program too, XDP_TX their\n"
		"                      one-frame answers: on (no argument), off, or auto (the\n"
		"                      default: on until the driver has no room to grow a\n"
		"                      frame, e.g. a veth, then off; xdp/README.md)\n"
		"  --queues N          xdp: AF_XDP sockets on RX queues 0..N-1 only (default: one\n"
		"                      on every RX queue of the interface, at most %u; frames\n"
		"                      handed on from other queues are dropped)\n"
		"  --stateless         no answered-request filter and no sender cache: every\n"
		"                      answer from the frame alone (PROTOCOL.md; for\n"
		"                      comparison, e.g. bench/loss_bench.py; afpacket only)\n",
		SL_MSS_MIN, SL_MSS_MAX, SL_MSS_MAX, SL_BODY_LIMIT, SL_RST_LIMIT_DEFAULT,
		SL_BURST_MAX, SL_FIRST_FLIGHT_DEFAULT, FE_XSK_QUEUES_MAX);
}

static int parse_u32(const char *opt, const char *s, unsigned long lo, unsigned long hi,
		     uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "slhttpd-host: %s: '%s' is not a number in %lu..%lu\n",
			opt, s, lo, hi);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* The kernel must not own the address too: it would answer our TCP ports. */
static int addr_is_local(uint32_t addr_be, char *ifname, size_t len)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr_be) {
			snprintf(ifname, len, "%s", i->ifa_name);
			found = 1;
			break;
		}
	}
	freeifaddrs(ifa);
	return found;
}

static void report(const char *json, const struct sl_stats *st, struct fe_stats *fs,
		   struct fe_port *port)
{
	struct sl_stats sum = *st;

	fs->c[FE_RX_RING_DROPS] = fe_ring_drops(port);
	if (port->xsk)
		fe_xsk_queue_stats(port, fs);
	/* --mode xdp: the frames the XDP program answered itself count too */
	if (port->xsk)
		fe_xsk_bpf_stats(port, &sum);
	fe_stats_print(stdout, &sum, fs);
	if (json && fe_stats_json(json, &sum, fs) < 0)
		fprintf(stderr, "slhttpd-host: cannot write %s: %s\n", json, strerror(errno));
}

static void handle_frame(const struct sl_config *cfg, struct sl_stats *st,
			 struct fe_port *port, struct fe_stats *fs,
			 const uint8_t *data, uint32_t len, uint32_t flags)
{
	struct sl_rx rx = { .data = data, .len = len, .flags = flags };
	struct timespec ts;
	struct sl_reply rp;
	struct sl_txinfo ti;

	/*
	 * PASS needs nothing: on AF_PACKET the kernel got its own copy of
	 * every frame (and drops ours, as the address is not its own).
	 */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rx.now = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	if (sl_input(cfg, st, &rx, &rp) != SL_REPLY)
		return;
	for (unsigned int i = 0; i < EMIT_MAX; i++) {
		uint8_t *buf = fe_tx_slot(port, fs);
		uint32_t n = sl_emit(cfg, st, &rp, buf, SL_FRAME_MAX, 0, &ti);

		if (!n)
			break;
		fe_tx_commit(port, n, fs);
	}
}

/* The command line. */
struct opts {
	const char *iface, *addr, *ports, *json, *xdp_obj;
	uint32_t mss, max_body, def_body, window, rst_limit, first_flight, queues;
	int fast_close, arp, icmp, allow_local, xdp, xdp_generic, xdp_requests;
	int stateless;
	struct in_addr in;
};

/* Parse and check the command line: -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, 'a' },
		{ "ports", required_argument, NULL, 'p' },
		{ "mss", required_argument, NULL, 'm' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "default-body", required_argument, NULL, 'd' },
		{ "window", required_argument, NULL, 'w' },
		{ "fast-close", no_argument, NULL, 'f' },
		{ "no-arp", no_argument, NULL, 'A' },
		{ "no-icmp", no_argument, NULL, 'I' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "rst-limit", required_argument, NULL, 'r' },
		{ "first-flight", required_argument, NULL, 'F' },
		{ "allow-local-addr", no_argument, NULL, 'L' },
		{ "mode", required_argument, NULL, 'M' },
		{ "xdp-obj", required_argument, NULL, 'X' },
		{ "xdp-generic", no_argument, NULL, 'G' },
		{ "xdp-requests", optional_argument, NULL, 'Q' },
		{ "queues", required_argument, NULL, 'q' },
		{ "stateless", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct opts){ .ports = "80", .max_body = SL_BODY_LIMIT, .def_body = 1024,
			    .window = 65535, .rst_limit = SL_RST_LIMIT_DEFAULT,
			    .first_flight = SL_FIRST_FLIGHT_DEFAULT,
			    .arp = 1, .icmp = 1, .xdp_requests = SL_XDP_REQ_AUTO };
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			o->iface = optarg;
			break;
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			o->ports = optarg;
			break;
		case 'm':
			if (parse_u32("--mss", optarg, SL_MSS_MIN, SL_MSS_MAX, &o->mss))
				return 2;
			break;
		case 'b':
			if (parse_u32("--max-body", optarg, 0, SL_BODY_LIMIT, &o->max_body))
				return 2;
			break;
		case 'd':
			if (parse_u32("--default-body", optarg, 0, SL_BODY_LIMIT, &o->def_body))
				return 2;
			break;
		case 'w':
			if (parse_u32("--window", optarg, 1, 65535, &o->window))
				return 2;
			break;
		case 'f':
			o->fast_close = 1;
			break;
		case 'A':
			o->arp = 0;
			break;
		case 'I':
			o->icmp = 0;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'r':
			if (parse_u32("--rst-limit", optarg, 0, 1000000, &o->rst_limit))
				return 2;
			break;
		case 'F':
			if (parse_u32("--first-flight", optarg, 0, SL_BURST_MAX,
				      &o->first_flight))
				return 2;
			break;
		case 'L':
			o->allow_local = 1;
			break;
		case 'S':
			o->stateless = 1;
			break;
		case 'M':
			if (strcmp(optarg, "xdp") && strcmp(optarg, "afpacket")) {
				fprintf(stderr, "slhttpd-host: --mode '%s': afpacket or xdp\n",
					optarg);
				return 2;
			}
			o->xdp = !strcmp(optarg, "xdp");
			break;
		case 'X':
			o->xdp_obj = optarg;
			break;
		case 'G':
			o->xdp_generic = 1;
			break;
		case 'Q':
			if (!optarg || !strcmp(optarg, "on")) {
				o->xdp_requests = SL_XDP_REQ_ON;
			} else if (!strcmp(optarg, "off")) {
				o->xdp_requests = SL_XDP_REQ_OFF;
			} else if (!strcmp(optarg, "auto")) {
				o->xdp_requests = SL_XDP_REQ_AUTO;
			} else {
				fprintf(stderr, "slhttpd-host: --xdp-requests='%s': on, auto or off\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			if (parse_u32("--queues", optarg, 1, FE_XSK_QUEUES_MAX, &o->queues))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !o->iface || !o->addr) {
		fprintf(stderr, "slhttpd-host: --iface and --addr are required\n");
		usage(stderr);
		return 2;
	}
	if (inet_pton(AF_INET, o->addr, &o->in) != 1 || o->in.s_addr == 0) {
		fprintf(stderr, "slhttpd-host: --addr '%s' is not an IPv4 address (A.B.C.D)\n",
			o->addr);
		return 2;
	}
	if (o->queues && !o->xdp) {
		fprintf(stderr, "slhttpd-host: --queues is for --mode xdp\n");
		return 2;
	}
	if (o->stateless && o->xdp) {
		fprintf(stderr, "slhttpd-host: --stateless is for --mode afpacket (the XDP "
			"program always has the table)\n");
		return 2;
	}
	return -1;
}

/* Open the interface and fill in the core's configuration: -1, or the exit status. */
static int configure(const struct opts *o, struct fe_port *port, struct sl_config *cfg,
		     struct sl_answered *answered, uint32_t answered_n)
{
	char err[512], lif[IFNAMSIZ + 1];
	uint32_t mss = o->mss;

	sl_config_init(cfg);
	if (sl_ports_parse(cfg, o->ports, (sl_u32)strlen(o->ports)) < 0) {
		fprintf(stderr,
			"slhttpd-host: --ports '%s': expected a list of ports or ranges in "
			"1..65535, low-high with low <= high, e.g. 80,8000-8999\n", o->ports);
		return 2;
	}
	if (!o->allow_local && addr_is_local(o->in.s_addr, lif, sizeof(lif))) {
		fprintf(stderr,
			"slhttpd-host: %s is configured on kernel interface %s: the kernel would "
			"answer its TCP ports too (RSTs). Remove it (ip addr del %s/PREFIX dev %s) "
			"or pass --allow-local-addr\n", o->addr, lif, o->addr, lif);
		return 2;
	}
	if (o->xdp ? fe_port_open_xdp(port, o->iface, o->xdp_obj,
				      (o->xdp_generic ? FE_XDP_GENERIC : 0) |
				      (o->xdp_requests == SL_XDP_REQ_ON ? FE_XDP_REQUESTS : 0) |
				      (o->xdp_requests == SL_XDP_REQ_OFF ? FE_XDP_NO_REQUESTS : 0),
				      o->queues,
				      err, sizeof(err)) < 0 :
		     fe_port_open(port, o->iface, err, sizeof(err)) < 0) {
		fprintf(stderr, "slhttpd-host: %s\n", err);
		return 1;
	}
	if (!mss)
		mss = port->mtu >= SL_MSS_MAX + 40 ? SL_MSS_MAX : port->mtu - 40;
	if (mss + 40 > port->mtu || mss < SL_MSS_MIN) {
		fprintf(stderr, "slhttpd-host: MSS %u does not fit the MTU %u of %s (MSS <= MTU - 40, "
			">= %d)\n", mss, port->mtu, o->iface, SL_MSS_MIN);
		return 2;
	}
	cfg->addr = ntohl(o->in.s_addr);
	memcpy(cfg->mac, port->mac, 6);
	cfg->mss = (sl_u16)mss;
	cfg->window = (sl_u16)o->window;
	cfg->max_body = o->max_body;
	cfg->default_body = o->def_body;
	cfg->rst_limit = o->rst_limit;
	cfg->first_flight = o->first_flight;
	cfg->flags = (o->arp ? SL_CFG_ARP : 0) | (o->icmp ? SL_CFG_ICMP_ECHO : 0) |
		     (o->fast_close ? SL_CFG_FAST_CLOSE : 0);
	/* --mode xdp: the filter is a BPF map both cores use */
	cfg->answered = port->xsk ? fe_xsk_answered(port) : o->stateless ? NULL : answered;
	cfg->answered_mask = answered_n - 1;
	if (getrandom(cfg->secret, sizeof(cfg->secret), 0) != sizeof(cfg->secret)) {
		fprintf(stderr, "slhttpd-host: getrandom: %s\n", strerror(errno));
		return 1;
	}
	if (sl_config_finish(cfg) < 0) {
		fprintf(stderr, "slhttpd-host: configuration rejected by the core (mss %u, "
			"max-body %u, default-body %u <= max-body, window %u, mac %02x:..., "
			"addr unicast)\n", mss, o->max_body, o->def_body, o->window, port->mac[0]);
		return 2;
	}
	if (port->xsk && fe_xsk_start(port, cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "slhttpd-host: %s\n", err);
		return 1;
	}
	return -1;
}

/* The line tests and users wait for: printed once signals are handled. */
static void banner(const struct opts *o, const struct fe_port *port, const struct sl_config *cfg)
{
	printf("slhttpd-host: serving %s ports %s on %s (%s, mac %02x:%02x:%02x:%02x:%02x:%02x, "
	       "mss %u, arp %s, icmp %s%s)\n", o->addr, o->ports, o->iface,
	       o->xdp ? (o->xdp_generic ? "xdp generic" : "xdp") : "afpacket",
	       port->mac[0], port->mac[1], port->mac[2], port->mac[3], port->mac[4], port->mac[5],
	       cfg->mss, o->arp ? "on" : "off", o->icmp ? "on" : "off",
	       o->fast_close ? ", fast close" : "");
	fflush(stdout);
}

/*
 * Frames in, replies out, until a signal stops it: 0 then, 1 on a socket
 * error. Signals are only delivered inside ppoll() (orig: the mask there).
 */
static int serve(const struct opts *o, const struct sl_config *cfg, struct fe_port *port,
		 struct sl_stats *st, struct fe_stats *fs, const sigset_t *orig)
{
	while (!stop_sig) {
		unsigned int n = 0;
		const uint8_t *frame;
		uint32_t len, flags;

		while (n < RX_BUDGET && (frame = fe_rx_next(port, &len, &flags, fs))) {
			handle_frame(cfg, st, port, fs, frame, len, flags);
			fe_rx_release(port);
			n++;
		}
		fe_tx_flush(port, fs);
		if (n == 0) {
			struct pollfd pfd[FE_XSK_QUEUES_MAX];
			unsigned int npfd = fe_poll_fds(port, pfd, FE_XSK_QUEUES_MAX);
			struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };

			if (ppoll(pfd, npfd, &ts, orig) < 0 && errno != EINTR) {
				fprintf(stderr, "slhttpd-host: poll: %s\n", strerror(errno));
				return 1;
			}
			fs->c[FE_POLLS]++;
			for (unsigned int i = 0; i < npfd; i++) {
				if (pfd[i].revents & (POLLERR | POLLNVAL)) {
					fprintf(stderr, "slhttpd-host: %s: socket error "
						"(interface gone?)\n", o->iface);
					return 1;
				}
			}
		}
		if (dump_req) {
			dump_req = 0;
			report(o->json, st, fs, port);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct sl_config cfg;
	/* answered-request filter and sender cache (PROTOCOL.md): 64 Ki buckets, 2 MiB */
	static struct sl_answered answered[1 << 16];
	static struct sl_stats st;
	static struct fe_stats fs;
	static struct fe_port port;
	struct opts o;
	struct sigaction sa;
	sigset_t block, orig;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc < 0 && o.xdp && !o.xdp_obj) {
		/* slhttpd_xdp.o beside the binary (both in slhttpd/out) */
		static char path[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
		char *slash;

		path[n > 0 ? n : 0] = 0;
		slash = strrchr(path, '/');
		strcpy(slash ? slash + 1 : path, "slhttpd_xdp.o");
		o.xdp_obj = path;
	}
	if (rc < 0)
		rc = configure(&o, &port, &cfg, answered, 1u << 16);
	if (rc >= 0)
		return rc;

	/* Signals are only delivered inside ppoll(): no lost wake-ups. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	banner(&o, &port, &cfg);
	if (o.json && fe_stats_json(o.json, &st, &fs) < 0) {
		fprintf(stderr, "slhttpd-host: cannot write %s: %s\n", o.json, strerror(errno));
		return 1;
	}
	rc = serve(&o, &cfg, &port, &st, &fs, &orig);
	if (stop_sig)
		printf("slhttpd-host: stopping on signal %d\n", (int)stop_sig);
	report(o.json, &st, &fs, &port);
	fe_port_close(&port);
	return rc;
}
