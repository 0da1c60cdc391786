/* SPDX-License-Identifier: MIT */
#include "gw/tc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <time.h>

#include "gw/bpf.h"
#include "gw/nl.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xfff2U
#endif

enum { NL_BUF = 8192 };

/* One request on a socket of its own, its acknowledgement: 0 or the
 * kernel's -errno. */
static int talk(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = nl_route_open(0, 0);
	int rc;

	if (!nl)
		return -errno;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	rc = nl_request(nl, nlh);
	mnl_socket_close(nl);
	return rc;
}

static struct tcmsg *tc_header(char *buf, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	return tcm;
}

static int qdisc(int ifindex, uint16_t type, uint16_t flags)
{
	char buf[NL_BUF] __attribute__((aligned(8)));
	struct tcmsg *tcm = tc_header(buf, type, flags, ifindex);

	tcm->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	tcm->tcm_parent = TC_H_CLSACT;
	mnl_attr_put_strz((struct nlmsghdr *)buf, TCA_KIND, "clsact");
	return talk((struct nlmsghdr *)buf);
}

static void filter_header(char *buf, const struct tc_filter *t, uint16_t type, uint16_t flags)
{
	struct tcmsg *tcm = tc_header(buf, type, flags, t->ifindex);

	tcm->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
	/* every ethertype: the program tells IPv4 and IPv6 apart itself, and
	 * the protocol of a filter cannot change on replace */
	tcm->tcm_info = TC_H_MAKE((uint32_t)t->pref << 16, htons(ETH_P_ALL));
	tcm->tcm_handle = TC_GW_HANDLE;
	mnl_attr_put_strz((struct nlmsghdr *)buf, TCA_KIND, "bpf");
}

/* RTM_NEWTFILTER with prog[n] at t's pref and handle. */
static int put_filter(const struct tc_filter *t, uint16_t flags, const struct sock_filter *prog,
		      unsigned n)
{
	char buf[NL_BUF] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *opts;

	filter_header(buf, t, RTM_NEWTFILTER, flags);
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put_u16(nlh, TCA_BPF_OPS_LEN, (uint16_t)n);
	mnl_attr_put(nlh, TCA_BPF_OPS, n * sizeof(*prog), prog);
	mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	mnl_attr_put_strz(nlh, TCA_BPF_NAME, "gw-uplink");
	mnl_attr_nest_end(nlh, opts);
	return talk(nlh);
}

int tc_install(struct tc_filter *t, int ifindex, uint16_t pref,
	       const struct sock_filter *prog, unsigned n)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->ifindex = ifindex;
	t->pref = pref ? pref : TC_GW_PREF;
	if (n == 0 || n > BPF_PROG_MAX)
		return -EINVAL;
	rc = qdisc(ifindex, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL);
	if (rc == 0)
		t->qdisc_added = true;
	else if (rc != -EEXIST)
		return rc;

	rc = put_filter(t, NLM_F_CREATE | NLM_F_EXCL, prog, n);
	if (rc < 0) {
		tc_remove(t);
		return rc;
	}
	t->filter_added = true;
	return 0;
}

int tc_adopt(struct tc_filter *t, int ifindex, uint16_t pref, const struct sock_filter *prog,
	     unsigned n, bool qdisc_ours)
{
	int rc = tc_install(t, ifindex, pref, prog, n);

	if (rc != -EEXIST)
		return rc;
	/* tc_install left the qdisc (it found one) and added nothing */
	t->ifindex = ifindex;
	t->pref = pref ? pref : TC_GW_PREF;
	rc = put_filter(t, NLM_F_CREATE | NLM_F_REPLACE, prog, n);
	if (rc < 0)
		return rc;
	t->filter_added = true;
	t->qdisc_added = qdisc_ours;
	return 0;
}

int tc_replace(struct tc_filter *t, const struct sock_filter *prog, unsigned n)
{
	if (!t->filter_added)
		return -ENOENT;
	if (n == 0 || n > BPF_PROG_MAX)
		return -EINVAL;
	/* cls_bpf swaps the program of an existing handle under RCU */
	return put_filter(t, NLM_F_REPLACE, prog, n);
}

int tc_remove(struct tc_filter *t)
{
	char buf[NL_BUF] __attribute__((aligned(8)));
	int rc = 0, r;

	if (t->filter_added) {
		filter_header(buf, t, RTM_DELTFILTER, 0);
		r = talk((struct nlmsghdr *)buf);
		if (r < 0 && r != -ENOENT)
			rc = r;
		t->filter_added = false;
	}
	if (t->qdisc_added) {
		r = qdisc(t->ifindex, RTM_DELQDISC, 0);
		if (r < 0 && r != -ENOENT && r != -EINVAL && !rc)
			rc = r;
		t->qdisc_added = false;
	}
	return rc;
}
