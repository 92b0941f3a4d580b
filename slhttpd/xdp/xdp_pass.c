// SPDX-License-Identifier: GPL-2.0-only OR MIT
/*
 * XDP_PASS, for the client end of the test veth: frames sent into a veth by
 * XDP_TX (or a redirect) are dropped unless the peer runs NAPI, which it does
 * with an XDP program attached (or GRO on, which would merge the segments
 * the tests look at). Not needed on a real NIC.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

char _license[] SEC("license") = "Dual MIT/GPL";
