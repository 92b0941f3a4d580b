// SPDX-License-Identifier: GPL-2.0
/*
 * xdptoggle: attach or detach a two-instruction XDP program (XDP_PASS) on an
 * interface, in generic (skb) mode, with nothing but the bpf() syscall and
 * rtnetlink. The virtual board has no BPF loader; its tests use this to
 * check that ndiv and XDP exclude each other on a device.
 *
 *   xdptoggle attach IFACE    load the program, attach it (IFLA_XDP)
 *   xdptoggle detach IFACE    detach whatever generic XDP program is there
 *   xdptoggle room IFACE N    attach, in native (driver) mode, a program that
 *                             grows every frame shorter than N bytes to N
 *                             bytes and back with
 *                             bpf_xdp_adjust_tail(): XDP_PASS if it could,
 *                             XDP_DROP if not (so a ping through IFACE
 *                             answers iff the driver's buffers have room
 *                             for N bytes; slhttpd/xdp/README.md)
 *   xdptoggle detach-native IFACE
 *
 * Prints "ok" or "error <errno> <strerror>[: <netlink extack message>]" and
 * exits 0 or 1.
 *
 * Built static for armhf (arm-linux-gnueabihf-gcc -static) into the
 * initramfs by linerate/vboard/initramfs.py.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static int fail(int err, const char *msg)
{
	if (msg && *msg)
		printf("error %d %s: %s\n", err, strerror(err), msg);
	else
		printf("error %d %s\n", err, strerror(err));
	return 1;
}

#define MOV_K(d, k)	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = (d), .imm = (k) }
#define MOV_X(d, s)	{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = (d), .src_reg = (s) }
#define SUB_X(d, s)	{ .code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = (d), .src_reg = (s) }
#define CALL(f)		{ .code = BPF_JMP | BPF_CALL, .imm = (f) }
#define EXIT		{ .code = BPF_JMP | BPF_EXIT }
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int load(const struct bpf_insn *insns, unsigned int n)
{
	static char log[4096];
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insn_cnt = n;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

static int load_pass(void)
{
	static const struct bpf_insn insns[] = {
		MOV_K(BPF_REG_0, XDP_PASS),
		EXIT,
	};

	return load(insns, ARRAY_SIZE(insns));
}

/*
 * Grow the frame to n bytes (if shorter) and back: XDP_PASS if the driver had
 * room, else XDP_DROP.
 */
static int load_room(int n)
{
	const struct bpf_insn insns[] = {
		MOV_X(BPF_REG_6, BPF_REG_1),
		CALL(BPF_FUNC_xdp_get_buff_len),
		MOV_K(BPF_REG_7, n),
		SUB_X(BPF_REG_7, BPF_REG_0),		/* r7 = n - len, */
		{ .code = BPF_JMP | BPF_JSGT | BPF_K, .dst_reg = BPF_REG_7, .off = 1 },
		MOV_K(BPF_REG_7, 0),			/* at least 0 */
		MOV_X(BPF_REG_1, BPF_REG_6),
		MOV_X(BPF_REG_2, BPF_REG_7),
		CALL(BPF_FUNC_xdp_adjust_tail),
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = BPF_REG_0, .off = 6 },
		MOV_X(BPF_REG_1, BPF_REG_6),
		MOV_K(BPF_REG_2, 0),
		SUB_X(BPF_REG_2, BPF_REG_7),		/* back: len - n */
		CALL(BPF_FUNC_xdp_adjust_tail),
		MOV_K(BPF_REG_0, XDP_PASS),
		EXIT,
		MOV_K(BPF_REG_0, XDP_DROP),		/* no room */
		EXIT,
	};

	return load(insns, ARRAY_SIZE(insns));
}

struct req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[64];
};

static void put_attr(struct nlmsghdr *nh, unsigned short type,
		     const void *data, unsigned short len)
{
	struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Set IFLA_XDP { FD = fd, FLAGS = flags } on ifindex; 0 or -errno. */
static int set_xdp(int ifindex, int fd, uint32_t flags, char *msg, size_t msglen)
{
	struct nlattr *nest;
	char buf[8192];
	struct req r;
	int one = 1, s, n, err;

	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	r.nh.nlmsg_type = RTM_SETLINK;
	r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r.nh.nlmsg_seq = 1;
	r.ifi.ifi_family = AF_UNSPEC;
	r.ifi.ifi_index = ifindex;
	nest = (struct nlattr *)((char *)&r + NLMSG_ALIGN(r.nh.nlmsg_len));
	put_attr(&r.nh, IFLA_XDP | NLA_F_NESTED, NULL, 0);
	put_attr(&r.nh, IFLA_XDP_FD, &fd, sizeof(fd));
	put_attr(&r.nh, IFLA_XDP_FLAGS, &flags, sizeof(flags));
	nest->nla_len = (char *)&r + r.nh.nlmsg_len - (char *)nest;

	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -errno;
	setsockopt(s, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (send(s, &r, r.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		close(s);
		return err;
	}
	n = recv(s, buf, sizeof(buf), 0);
	err = n < 0 ? -errno : -EPROTO;
	close(s);
	if (n >= (int)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		struct nlmsgerr *e = NLMSG_DATA(nh);

		if (nh->nlmsg_type != NLMSG_ERROR)
			return -EPROTO;
		err = e->error;
		if (nh->nlmsg_flags & NLM_F_ACK_TLVS) {
			/* the request is echoed in full, then the TLVs */
			size_t off = NLMSG_HDRLEN + sizeof(*e) - sizeof(e->msg) +
				     NLMSG_ALIGN(e->msg.nlmsg_len);

			while (off + NLA_HDRLEN <= nh->nlmsg_len) {
				struct nlattr *a = (struct nlattr *)(buf + off);

				if (a->nla_len < NLA_HDRLEN)
					break;
				if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG)
					snprintf(msg, msglen, "%.*s",
						 (int)(a->nla_len - NLA_HDRLEN),
						 (char *)a + NLA_HDRLEN);
				off += NLA_ALIGN(a->nla_len);
			}
		}
	}
	return err;
}

int main(int argc, char **argv)
{
	uint32_t flags = XDP_FLAGS_SKB_MODE;
	char msg[256] = "";
	int ifindex, fd = -1, err;
	int room = argc == 4 && !strcmp(argv[1], "room");

	if (!room && (argc != 3 || (strcmp(argv[1], "attach") && strcmp(argv[1], "detach") &&
				    strcmp(argv[1], "detach-native")))) {
		fprintf(stderr, "usage: xdptoggle attach|detach|detach-native IFACE\n"
				"       xdptoggle room IFACE BYTES\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex)
		return fail(errno, "no such interface");
	if (room || !strcmp(argv[1], "detach-native"))
		flags = XDP_FLAGS_DRV_MODE;
	if (!strcmp(argv[1], "attach") || room) {
		fd = room ? load_room(atoi(argv[3])) : load_pass();
		if (fd < 0)
			return fail(errno, "BPF_PROG_LOAD");
	}
	err = set_xdp(ifindex, fd, flags, msg, sizeof(msg));
	if (err)
		return fail(-err, msg);
	printf("ok\n");
	return 0;
}
