// SPDX-License-Identifier: GPL-2.0
/*
 * xdptoggle: attach or detach a two-instruction XDP program (XDP_PASS) on an
 * interface, in generic (skb) mode, with nothing but the bpf() syscall and
 * rtnetlink. The virtual board has no BPF loader; its tests use this to
 * check that ndiv and XDP exclude each other on a device.
 *
 *   xdptoggle attach IFACE    load the program, attach it (IFLA_XDP)
 *   xdptoggle detach IFACE    detach whatever generic XDP program is there
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

static int load_pass(void)
{
	static const struct bpf_insn insns[] = {
		/* r0 = XDP_PASS; exit */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
		  .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[4096];
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
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

/* Set IFLA_XDP { FD = fd, FLAGS = generic } on ifindex; 0 or -errno. */
static int set_xdp(int ifindex, int fd, char *msg, size_t msglen)
{
	uint32_t flags = XDP_FLAGS_SKB_MODE;
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
	char msg[256] = "";
	int ifindex, fd = -1, err;

	if (argc != 3 || (strcmp(argv[1], "attach") && strcmp(argv[1], "detach"))) {
		fprintf(stderr, "usage: xdptoggle attach|detach IFACE\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex)
		return fail(errno, "no such interface");
	if (!strcmp(argv[1], "attach")) {
		fd = load_pass();
		if (fd < 0)
			return fail(errno, "BPF_PROG_LOAD");
	}
	err = set_xdp(ifindex, fd, msg, sizeof(msg));
	if (err)
		return fail(-err, msg);
	printf("ok\n");
	return 0;
}
