/* SPDX-License-Identifier: MIT */
/*
 * metrics — one list of counters, two spellings.
 *
 * The control answers that carry numbers (gw/ctl.h show and stats) hand each
 * value to metric() once, with its key=value key and its Prometheus family.
 * The key=value writer prints "KEY=VALUE" lines in call order (gw show,
 * gw stats, gw stats --json); the Prometheus writer keeps the samples per
 * family and metrics_finish() prints each family whole, as the text
 * exposition format requires (format 0.0.4):
 *
 *   # HELP gw_wg_drops_total Datagrams and packets dropped by the WireGuard layer.
 *   # TYPE gw_wg_drops_total counter
 *   gw_wg_drops_total{interface="gw0",reason="mac1"} 0
 *
 * Names are gw_ + def->name, counters end in _total; every sample carries
 * interface="IFACE", per-peer ones peer="PUBLIC-KEY" (metrics_peer), and a
 * family with a label of its own (def->label) its value.  Label values are
 * escaped (\\, \", \n).  No timestamps: node_exporter's textfile collector
 * refuses them.  Control path only (allocates).
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf;

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metric_def {
	const char *name;      /* family without gw_ and _total: [a-z0-9_]+ */
	enum metric_type type;
	const char *help;      /* one line, no backslash */
	const char *label;     /* the family's own label name, or NULL */
};

struct metric_family;

struct metrics {
	struct sbuf *out;
	bool prom;             /* Prometheus text instead of key=value lines */
	const char *iface;
	char peer[64];         /* the peer label's value; "" none */
	struct metric_family *fam;
	size_t nfam, cap;
};

/* Writes to out: key=value lines, or with prom the exposition format. */
void metrics_init(struct metrics *m, struct sbuf *out, bool prom, const char *iface);
/* Samples from now on carry peer="KEY" (NULL: none). */
void metrics_peer(struct metrics *m, const char *key);
/* One value: "KEYFMT...=v" for key=value (keyfmt NULL: Prometheus only), a
 * sample of def's family with lval as def->label's value for Prometheus
 * (def NULL: key=value only). */
__attribute__((format(printf, 5, 6)))
void metric(struct metrics *m, const struct metric_def *def, const char *lval, uint64_t v,
	    const char *keyfmt, ...);
/* A text line "KEY=VALUE" for key=value only (Prometheus has no text). */
__attribute__((format(printf, 3, 4)))
void metrics_text(struct metrics *m, const char *key, const char *fmt, ...);
/* Prometheus: prints the families gathered; frees them (both modes). */
void metrics_finish(struct metrics *m);

#endif
