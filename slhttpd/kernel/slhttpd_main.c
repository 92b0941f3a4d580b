// SPDX-License-Identifier: GPL-2.0-only
/*
 * SLHTTPD as an ndiv application: the stateless HTTP server core
 * (slhttpd/core) answering inside the NIC driver's receive path.
 *
 * Configuration: module parameters, at load time and at run time through
 * /sys/module/slhttpd/parameters/ (a write re-applies the whole
 * configuration: bad values are refused and the old one stays):
 *   ifaces=eth0,eth1  interfaces to attach to (each must exist)
 *   addr=10.0.0.1     served IPv4 address (required); addr=any: every
 *                     unicast destination (an explicit choice, never a default)
 *   ports=80,8000-8999
 *   mss= window= ttl= max_body= default_body=   0: the core's default
 *   arp= icmp= fast_close=                      booleans
 *   rst_limit=N       RSTs per second and CPU to blind frames (bad cookie or
 *                     timestamp echo); default 1000, 0: none
 *   first_flight=N    segments a request releases while the sender cache
 *                     holds its response; default 10, 0: the whole burst
 * Counters: /sys/kernel/slhttpd/counters (per-CPU sums, one "name value"
 * line each), per-interface frame counters in /proc/net/ndiv.
 *
 * Our MSS never exceeds what the interface's MTU carries (MTU - 40); the
 * configuration follows MTU and MAC changes. An interface that goes away
 * (driver unbound, moved to another namespace) is served again when an
 * interface of that name comes back; /sys/kernel/slhttpd/attached lists the
 * interfaces served now. The cookie secret is drawn once the CRNG is ready.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/inet.h>
#include <linux/jiffies.h>
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/ndiv.h>
#include <linux/netdevice.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/u64_stats_sync.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "slhttpd.h"

struct sl_iface {
	struct list_head list;
	char name[IFNAMSIZ];
	struct ndiv_app app;
	struct sl_config __rcu *cfg;
};

/*
 * The core's per-CPU counters are plain u64: on 32-bit CPUs a reader could
 * see half an update, so every core call that may count runs inside a
 * u64_stats writer section (NAPI context: one writer per CPU).
 */
struct sl_pcpu_stats {
	struct sl_stats st;
	struct u64_stats_sync syncp;
};

/* What the emit callback needs, kept in the per-CPU ndiv reply scratch. */
struct sl_emit_ctx {
	struct sl_reply rp;
	const struct sl_config *cfg;
	struct sl_pcpu_stats *ps;
};

static DEFINE_MUTEX(sl_lock);		/* ifaces list, parameters, live */
static LIST_HEAD(sl_ifaces_list);
static bool sl_live;
static u8 sl_secret[16];
static struct sl_pcpu_stats __percpu *sl_stats;
/* The core's answered-request filter, shared by every interface (lossy). */
#define SL_ANSWERED_ENTRIES	BIT(16)
static struct sl_answered *sl_answered;
static struct kobject *sl_kobj;

static char sl_p_ifaces[256] = "eth0";
static char sl_p_addr[32];
static char sl_p_ports[256] = "80";
static unsigned int sl_p_mss;
static unsigned int sl_p_window;
static unsigned int sl_p_ttl;
static unsigned int sl_p_max_body;
static unsigned int sl_p_default_body;
static bool sl_p_arp;
static bool sl_p_icmp;
static bool sl_p_fast_close;
static unsigned int sl_p_rst_limit = SL_RST_LIMIT_DEFAULT;
static unsigned int sl_p_first_flight = SL_FIRST_FLIGHT_DEFAULT;

static unsigned int sl_emit_frame(struct ndiv_reply *reply, u8 *buf,
				  unsigned int cap, struct ndiv_tx *tx)
{
	struct sl_emit_ctx *ctx = (struct sl_emit_ctx *)reply->scratch;
	struct sl_txinfo ti = {};
	unsigned int len;

	u64_stats_update_begin(&ctx->ps->syncp);
	len = sl_emit(ctx->cfg, &ctx->ps->st, &ctx->rp, buf, cap,
		      SL_TX_CSUM_OFFLOAD, &ti);
	u64_stats_update_end(&ctx->ps->syncp);
	if (len && ti.csum_partial) {
		tx->flags = NDIV_TX_CSUM_PARTIAL;
		tx->csum_start = ti.csum_start;
		tx->csum_offset = ti.csum_offset;
	}
	return len;
}

static enum ndiv_verdict sl_rx(struct ndiv_app *app, struct net_device *dev,
			       const struct ndiv_rx *rx,
			       struct ndiv_reply *reply)
{
	struct sl_iface *ifc = container_of(app, struct sl_iface, app);
	struct sl_emit_ctx *ctx = (struct sl_emit_ctx *)reply->scratch;
	const struct sl_config *cfg;
	enum sl_verdict v;
	struct sl_rx in;

	BUILD_BUG_ON(sizeof(*ctx) > NDIV_REPLY_SCRATCH);
	/* a stripped VLAN tag would not be in the reply: not ours */
	if (rx->flags & NDIV_RX_VLAN)
		return NDIV_PASS;
	cfg = rcu_dereference(ifc->cfg);
	if (!cfg)
		return NDIV_PASS;
	in.data = rx->data;
	in.len = rx->len;
	in.flags = 0;
	in.now = jiffies_to_msecs(jiffies);
	if (rx->flags & NDIV_RX_L3_CSUM_OK)
		in.flags |= SL_RX_IP_CSUM_OK;
	if (rx->flags & NDIV_RX_L4_CSUM_OK)
		in.flags |= SL_RX_L4_CSUM_OK;
	ctx->cfg = cfg;
	ctx->ps = this_cpu_ptr(sl_stats);
	u64_stats_update_begin(&ctx->ps->syncp);
	v = sl_input(cfg, &ctx->ps->st, &in, &ctx->rp);
	u64_stats_update_end(&ctx->ps->syncp);
	switch (v) {
	case SL_REPLY:
		reply->emit = sl_emit_frame;
		return NDIV_REPLY;
	case SL_DROP:
		return NDIV_DROP;
	default:
		return NDIV_PASS;
	}
}

static unsigned int sl_param_or(unsigned int v, unsigned int dflt)
{
	return v ? v : dflt;
}

/* A configuration for @dev from the parameters; ERR_PTR when invalid. */
static struct sl_config *sl_config_build(struct net_device *dev)
{
	char *ports = strim(sl_p_ports), *addr = strim(sl_p_addr);
	struct sl_config *cfg;
	__be32 a = 0;

	cfg = kmalloc(sizeof(*cfg), GFP_KERNEL);
	if (!cfg)
		return ERR_PTR(-ENOMEM);
	sl_config_init(cfg);
	if (!*addr) {
		pr_err("addr is required: an IPv4 address, or addr=any to answer every unicast destination\n");
		goto invalid;
	}
	if (strcmp(addr, "any") && !in4_pton(addr, -1, (u8 *)&a, -1, NULL)) {
		pr_err("addr=%s: not an IPv4 address (or any)\n", addr);
		goto invalid;
	}
	cfg->addr = ntohl(a);
	if (sl_ports_parse(cfg, ports, strlen(ports))) {
		pr_err("ports=%s: expected a list like 80,8000-8999\n", ports);
		goto invalid;
	}
	memcpy(cfg->mac, dev->dev_addr, sizeof(cfg->mac));
	cfg->mss = sl_param_or(sl_p_mss, cfg->mss);
	cfg->window = sl_param_or(sl_p_window, cfg->window);
	cfg->ttl = sl_param_or(sl_p_ttl, cfg->ttl);
	cfg->max_body = sl_param_or(sl_p_max_body, cfg->max_body);
	cfg->default_body = sl_param_or(sl_p_default_body, cfg->default_body);
	cfg->rst_limit = sl_p_rst_limit;
	cfg->first_flight = sl_p_first_flight;
	if (sl_p_mss > SL_MSS_MAX || sl_p_window > 65535 || sl_p_ttl > 255) {
		pr_err("mss (max %u), window (max 65535) or ttl (max 255) out of range\n",
		       SL_MSS_MAX);
		goto invalid;
	}
	if (sl_p_first_flight > SL_BURST_MAX) {
		pr_err("first_flight=%u out of range (max %u)\n",
		       sl_p_first_flight, SL_BURST_MAX);
		goto invalid;
	}
	/* a segment must fit the interface's MTU (IPv4 + TCP headers) */
	if (dev->mtu < SL_MSS_MIN + 40) {
		pr_err("%s: MTU %u is too small (at least %u)\n", dev->name,
		       dev->mtu, SL_MSS_MIN + 40);
		goto invalid;
	}
	if (cfg->mss > dev->mtu - 40) {
		if (sl_p_mss)
			pr_info("%s: mss=%u clamped to %u (MTU %u)\n", dev->name,
				sl_p_mss, dev->mtu - 40, dev->mtu);
		cfg->mss = dev->mtu - 40;
	}
	cfg->flags = (sl_p_arp ? SL_CFG_ARP : 0) |
		     (sl_p_icmp ? SL_CFG_ICMP_ECHO : 0) |
		     (sl_p_fast_close ? SL_CFG_FAST_CLOSE : 0);
	memcpy(cfg->secret, sl_secret, sizeof(cfg->secret));
	cfg->answered = sl_answered;
	cfg->answered_mask = SL_ANSWERED_ENTRIES - 1;
	if (sl_config_finish(cfg)) {
		pr_err("configuration refused by the core: check addr (unicast), mss (%u..%u), max_body (<= %u), default_body (<= max_body), the interface's MAC (unicast)\n",
		       SL_MSS_MIN, SL_MSS_MAX, SL_BODY_LIMIT);
		goto invalid;
	}
	return cfg;

invalid:
	kfree(cfg);
	return ERR_PTR(-EINVAL);
}

static struct sl_iface *sl_iface_find(const char *name)
{
	struct sl_iface *ifc;

	list_for_each_entry(ifc, &sl_ifaces_list, list)
		if (!strcmp(ifc->name, name))
			return ifc;
	return NULL;
}

static void sl_iface_remove(struct sl_iface *ifc)
{
	/* waits until no receive path runs it */
	ndiv_app_unregister(&ifc->app);
	list_del(&ifc->list);
	kfree(rcu_dereference_protected(ifc->cfg, lockdep_is_held(&sl_lock)));
	kfree(ifc);
}

/* Is @name in the comma-separated parameter @list? */
static bool sl_name_listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (*p) {
		p += strspn(p, ", \t\n");
		if (!strncmp(p, name, n) && (!p[n] || strchr(", \t\n", p[n])))
			return true;
		p += strcspn(p, ", \t\n");
	}
	return false;
}

/*
 * Make the attached interfaces and their configurations match the
 * parameters. All configurations are built first: on error nothing
 * changes. Called with sl_lock held.
 */
static int sl_apply(void)
{
	struct sl_config *cfgs[8] = {};
	struct net_device *devs[8] = {};
	char names[8][IFNAMSIZ] = {};
	struct sl_iface *ifc, *tmp;
	const char *p = sl_p_ifaces;
	int n = 0, i, err = 0;

	while (*p) {
		size_t len;

		p += strspn(p, ", \t\n");
		len = strcspn(p, ", \t\n");
		if (!len)
			break;
		if (n == ARRAY_SIZE(names) || len >= IFNAMSIZ) {
			pr_err("ifaces=%s: at most %zu names of up to %d characters\n",
			       sl_p_ifaces, ARRAY_SIZE(names), IFNAMSIZ - 1);
			return -EINVAL;
		}
		memcpy(names[n], p, len);
		p += len;
		devs[n] = dev_get_by_name(&init_net, names[n]);
		if (!devs[n]) {
			pr_err("ifaces: no interface %s\n", names[n]);
			err = -ENODEV;
			goto out;
		}
		cfgs[n] = sl_config_build(devs[n]);
		n++;
		if (IS_ERR(cfgs[n - 1])) {
			err = PTR_ERR(cfgs[n - 1]);
			cfgs[n - 1] = NULL;
			goto out;
		}
	}

	/* interfaces no longer named */
	list_for_each_entry_safe(ifc, tmp, &sl_ifaces_list, list)
		if (!sl_name_listed(sl_p_ifaces, ifc->name))
			sl_iface_remove(ifc);

	for (i = 0; i < n; i++) {
		struct sl_config *old;

		ifc = sl_iface_find(names[i]);
		if (ifc) {
			old = rcu_replace_pointer(ifc->cfg, cfgs[i],
						  lockdep_is_held(&sl_lock));
			cfgs[i] = NULL;
			synchronize_rcu();
			kfree(old);
			continue;
		}
		ifc = kzalloc(sizeof(*ifc), GFP_KERNEL);
		if (!ifc) {
			err = -ENOMEM;
			break;
		}
		strscpy(ifc->name, names[i], sizeof(ifc->name));
		ifc->app.name = "slhttpd";
		ifc->app.owner = THIS_MODULE;
		ifc->app.rx = sl_rx;
		RCU_INIT_POINTER(ifc->cfg, cfgs[i]);
		cfgs[i] = NULL;
		err = ndiv_attach(devs[i], &ifc->app);
		if (err) {
			pr_err("%s: ndiv attach failed (%d): is another application attached?\n",
			       names[i], err);
			kfree(rcu_dereference_protected(ifc->cfg, true));
			kfree(ifc);
			break;
		}
		list_add_tail(&ifc->list, &sl_ifaces_list);
		pr_info("serving on %s\n", names[i]);
	}
out:
	for (i = 0; i < n; i++) {
		kfree(cfgs[i]);
		dev_put(devs[i]);
	}
	return err;
}

/*
 * After a netdevice event: serve exactly the named interfaces that exist,
 * with configurations built from their current MTU and MAC. An interface
 * that came back (driver rebound, moved back to this namespace) is
 * attached again; one that was renamed away is left.
 */
static void sl_resync(struct work_struct *work)
{
	struct sl_iface *ifc;

	mutex_lock(&sl_lock);
	if (!sl_live)
		goto out;
	list_for_each_entry(ifc, &sl_ifaces_list, list) {
		struct net_device *dev;
		struct sl_config *cfg, *old;
		int err;

		dev = dev_get_by_name(&init_net, ifc->name);
		if (!dev) {
			ndiv_app_unregister(&ifc->app);
			continue;
		}
		cfg = sl_config_build(dev);
		if (IS_ERR(cfg)) {
			pr_err("%s: not served: no valid configuration\n",
			       ifc->name);
			ndiv_app_unregister(&ifc->app);
			dev_put(dev);
			continue;
		}
		old = rcu_replace_pointer(ifc->cfg, cfg,
					  lockdep_is_held(&sl_lock));
		synchronize_rcu();
		kfree(old);
		if (!ndiv_attached(dev, &ifc->app)) {
			ndiv_app_unregister(&ifc->app);
			err = ndiv_attach(dev, &ifc->app);
			if (err)
				pr_err("%s: ndiv attach failed (%d)\n",
				       ifc->name, err);
			else
				pr_info("serving on %s again\n", ifc->name);
		}
		dev_put(dev);
	}
out:
	mutex_unlock(&sl_lock);
}

static DECLARE_WORK(sl_resync_work, sl_resync);

/* Under RTNL: cannot take sl_lock (sl_apply() takes RTNL under it). */
static int sl_netdev_event(struct notifier_block *nb, unsigned long event,
			   void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	switch (event) {
	case NETDEV_REGISTER:
	case NETDEV_UNREGISTER:
	case NETDEV_CHANGENAME:
	case NETDEV_CHANGEMTU:
	case NETDEV_CHANGEADDR:
		if (net_eq(dev_net(dev), &init_net))
			schedule_work(&sl_resync_work);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block sl_netdev_nb = {
	.notifier_call = sl_netdev_event,
};

/* Parameter writes: store, and re-apply when the module is live. */
static int sl_param_set(const char *val, const struct kernel_param *kp,
			int (*set)(const char *, const struct kernel_param *))
{
	char *saved;
	int err;

	saved = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!saved)
		return -ENOMEM;
	mutex_lock(&sl_lock);
	if (kp->ops->get(saved, kp) < 0)
		saved[0] = '\0';
	err = set(val, kp);
	if (!err && sl_live) {
		err = sl_apply();
		if (err) {
			/* back to the old value; an attach may have failed half
			 * way, so apply it again
			 */
			set(strim(saved), kp);
			sl_apply();
		}
	}
	mutex_unlock(&sl_lock);
	kfree(saved);
	return err;
}

static int sl_set_string(const char *val, const struct kernel_param *kp)
{
	return sl_param_set(val, kp, param_set_copystring);
}

static int sl_set_uint(const char *val, const struct kernel_param *kp)
{
	return sl_param_set(val, kp, param_set_uint);
}

static int sl_set_bool(const char *val, const struct kernel_param *kp)
{
	return sl_param_set(val, kp, param_set_bool);
}

static const struct kernel_param_ops sl_string_ops = {
	.set = sl_set_string,
	.get = param_get_string,
};

static const struct kernel_param_ops sl_uint_ops = {
	.set = sl_set_uint,
	.get = param_get_uint,
};

static const struct kernel_param_ops sl_bool_ops = {
	.set = sl_set_bool,
	.get = param_get_bool,
};

static struct kparam_string sl_kps_ifaces = {
	.maxlen = sizeof(sl_p_ifaces), .string = sl_p_ifaces,
};

static struct kparam_string sl_kps_addr = {
	.maxlen = sizeof(sl_p_addr), .string = sl_p_addr,
};

static struct kparam_string sl_kps_ports = {
	.maxlen = sizeof(sl_p_ports), .string = sl_p_ports,
};

module_param_cb(ifaces, &sl_string_ops, &sl_kps_ifaces, 0644);
MODULE_PARM_DESC(ifaces, "interfaces to serve on, comma-separated");
module_param_cb(addr, &sl_string_ops, &sl_kps_addr, 0644);
MODULE_PARM_DESC(addr, "served IPv4 address, or any (required)");
module_param_cb(ports, &sl_string_ops, &sl_kps_ports, 0644);
MODULE_PARM_DESC(ports, "served TCP ports, e.g. 80,8000-8999");
module_param_cb(mss, &sl_uint_ops, &sl_p_mss, 0644);
MODULE_PARM_DESC(mss, "our MSS (0: 1460)");
module_param_cb(window, &sl_uint_ops, &sl_p_window, 0644);
MODULE_PARM_DESC(window, "advertised receive window (0: 65535)");
module_param_cb(ttl, &sl_uint_ops, &sl_p_ttl, 0644);
MODULE_PARM_DESC(ttl, "IP TTL (0: 64)");
module_param_cb(max_body, &sl_uint_ops, &sl_p_max_body, 0644);
MODULE_PARM_DESC(max_body, "largest body served (0: the core's limit)");
module_param_cb(default_body, &sl_uint_ops, &sl_p_default_body, 0644);
MODULE_PARM_DESC(default_body, "body size for / (0: 1024)");
module_param_cb(arp, &sl_bool_ops, &sl_p_arp, 0644);
MODULE_PARM_DESC(arp, "answer ARP requests for addr");
module_param_cb(icmp, &sl_bool_ops, &sl_p_icmp, 0644);
MODULE_PARM_DESC(icmp, "answer ping for addr");
module_param_cb(fast_close, &sl_bool_ops, &sl_p_fast_close, 0644);
MODULE_PARM_DESC(fast_close, "RST instead of the last ACK");
module_param_cb(rst_limit, &sl_uint_ops, &sl_p_rst_limit, 0644);
MODULE_PARM_DESC(rst_limit, "RSTs per second and CPU to blind frames (0: none)");
module_param_cb(first_flight, &sl_uint_ops, &sl_p_first_flight, 0644);
MODULE_PARM_DESC(first_flight, "segments of a request's first flight (0: the whole burst)");

static ssize_t counters_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	u64 sum[SL_C_MAX] = {};
	int cpu, c, len = 0;

	for_each_possible_cpu(cpu) {
		const struct sl_pcpu_stats *ps = per_cpu_ptr(sl_stats, cpu);
		u64 v[SL_C_MAX];
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&ps->syncp);
			for (c = 0; c < SL_C_MAX; c++)
				v[c] = ps->st.c[c];
		} while (u64_stats_fetch_retry(&ps->syncp, start));
		for (c = 0; c < SL_C_MAX; c++)
			sum[c] += v[c];
	}
	for (c = 0; c < SL_C_MAX; c++)
		len += sysfs_emit_at(buf, len, "%s %llu\n",
				     sl_counter_name(c), sum[c]);
	return len;
}

static ssize_t attached_show(struct kobject *kobj, struct kobj_attribute *attr,
			     char *buf)
{
	struct net_device *dev;
	struct sl_iface *ifc;
	int len = 0;

	/* what is attached now, not what was asked for */
	mutex_lock(&sl_lock);
	list_for_each_entry(ifc, &sl_ifaces_list, list) {
		dev = dev_get_by_name(&init_net, ifc->name);
		if (!dev)
			continue;
		if (ndiv_attached(dev, &ifc->app))
			len += sysfs_emit_at(buf, len, "%s\n", ifc->name);
		dev_put(dev);
	}
	mutex_unlock(&sl_lock);
	return len;
}

static struct kobj_attribute sl_counters_attr = __ATTR_RO(counters);
static struct kobj_attribute sl_attached_attr = __ATTR_RO(attached);

static struct attribute *sl_attrs[] = {
	&sl_counters_attr.attr,
	&sl_attached_attr.attr,
	NULL,
};

static const struct attribute_group sl_attr_group = {
	.attrs = sl_attrs,
};

static void sl_remove_all(void)
{
	struct sl_iface *ifc, *tmp;

	list_for_each_entry_safe(ifc, tmp, &sl_ifaces_list, list)
		sl_iface_remove(ifc);
}

static int __init slhttpd_init(void)
{
	int cpu, err;

	/* the cookie key: never from a CRNG that is not seeded yet */
	err = get_random_bytes_wait(sl_secret, sizeof(sl_secret));
	if (err)
		return err;
	sl_stats = alloc_percpu(struct sl_pcpu_stats);
	if (!sl_stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(sl_stats, cpu)->syncp);
	sl_answered = vzalloc(array_size(SL_ANSWERED_ENTRIES, sizeof(*sl_answered)));
	if (!sl_answered) {
		err = -ENOMEM;
		goto err_stats;
	}
	sl_kobj = kobject_create_and_add("slhttpd", kernel_kobj);
	if (!sl_kobj) {
		err = -ENOMEM;
		goto err_stats;
	}
	err = sysfs_create_group(sl_kobj, &sl_attr_group);
	if (err)
		goto err_kobj;

	mutex_lock(&sl_lock);
	err = sl_apply();
	if (err)
		sl_remove_all();
	else
		sl_live = true;
	mutex_unlock(&sl_lock);
	if (err)
		goto err_kobj;
	err = register_netdevice_notifier(&sl_netdev_nb);
	if (err)
		goto err_live;
	return 0;

err_live:
	cancel_work_sync(&sl_resync_work);
	mutex_lock(&sl_lock);
	sl_live = false;
	sl_remove_all();
	mutex_unlock(&sl_lock);

err_kobj:
	kobject_put(sl_kobj);
err_stats:
	vfree(sl_answered);
	free_percpu(sl_stats);
	return err;
}

static void __exit slhttpd_exit(void)
{
	unregister_netdevice_notifier(&sl_netdev_nb);
	cancel_work_sync(&sl_resync_work);
	mutex_lock(&sl_lock);
	sl_live = false;
	sl_remove_all();
	mutex_unlock(&sl_lock);
	kobject_put(sl_kobj);
	vfree(sl_answered);
	free_percpu(sl_stats);
}

module_init(slhttpd_init);
module_exit(slhttpd_exit);

MODULE_DESCRIPTION("SLHTTPD: stateless HTTP server in the NIC driver (ndiv)");
MODULE_LICENSE("GPL");
