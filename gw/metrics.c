/* SPDX-License-Identifier: MIT */
/* One list of counters, two spellings: see metrics.h. */
#include "gw/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nat/sbuf.h"

struct metric_family {
	const struct metric_def *def;
	struct sbuf samples;
};

void metrics_init(struct metrics *m, struct sbuf *out, bool prom, const char *iface)
{
	memset(m, 0, sizeof(*m));
	m->out = out;
	m->prom = prom;
	m->iface = iface;
}

void metrics_peer(struct metrics *m, const char *key)
{
	snprintf(m->peer, sizeof(m->peer), "%s", key ? key : "");
}

/* A label value as the exposition format quotes it. */
static void add_label(struct sbuf *s, const char *name, const char *value)
{
	sbuf_printf(s, "%s=\"", name);
	for (const char *c = value; *c; c++) {
		if (*c == '\\')
			sbuf_add(s, "\\\\");
		else if (*c == '"')
			sbuf_add(s, "\\\"");
		else if (*c == '\n')
			sbuf_add(s, "\\n");
		else
			sbuf_addn(s, c, 1);
	}
	sbuf_add(s, "\"");
}

static struct metric_family *family(struct metrics *m, const struct metric_def *def)
{
	struct metric_family *f;

	for (size_t i = 0; i < m->nfam; i++)
		if (m->fam[i].def == def)
			return &m->fam[i];
	if (m->nfam == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 32;

		f = realloc(m->fam, cap * sizeof(*f));
		if (!f) {
			m->out->oom = true;
			return NULL;
		}
		m->fam = f;
		m->cap = cap;
	}
	f = &m->fam[m->nfam++];
	f->def = def;
	sbuf_init(&f->samples);
	return f;
}

static void sample_name(struct sbuf *s, const struct metric_def *def)
{
	sbuf_printf(s, "gw_%s%s", def->name, def->type == METRIC_COUNTER ? "_total" : "");
}

void metric(struct metrics *m, const struct metric_def *def, const char *lval, uint64_t v,
	    const char *keyfmt, ...)
{
	struct metric_family *f;
	va_list ap;

	if (!m->prom) {
		if (!keyfmt)
			return;
		char key[128];

		va_start(ap, keyfmt);
		vsnprintf(key, sizeof(key), keyfmt, ap);
		va_end(ap);
		sbuf_printf(m->out, "%s=%llu\n", key, (unsigned long long)v);
		return;
	}
	if (!def || !(f = family(m, def)))
		return;
	sample_name(&f->samples, def);
	sbuf_add(&f->samples, "{");
	add_label(&f->samples, "interface", m->iface);
	if (m->peer[0]) {
		sbuf_add(&f->samples, ",");
		add_label(&f->samples, "peer", m->peer);
	}
	if (def->label) {
		sbuf_add(&f->samples, ",");
		add_label(&f->samples, def->label, lval ? lval : "");
	}
	sbuf_printf(&f->samples, "} %llu\n", (unsigned long long)v);
	if (f->samples.oom)
		m->out->oom = true;
}

void metrics_text(struct metrics *m, const char *key, const char *fmt, ...)
{
	char val[512];
	va_list ap;

	if (m->prom)
		return;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	sbuf_printf(m->out, "%s=%s\n", key, val);
}

void metrics_finish(struct metrics *m)
{
	for (size_t i = 0; i < m->nfam; i++) {
		struct metric_family *f = &m->fam[i];

		sbuf_add(m->out, "# HELP ");
		sample_name(m->out, f->def);
		sbuf_printf(m->out, " %s\n# TYPE ", f->def->help);
		sample_name(m->out, f->def);
		sbuf_printf(m->out, " %s\n",
			    f->def->type == METRIC_COUNTER ? "counter" : "gauge");
		if (f->samples.len)
			sbuf_add(m->out, f->samples.buf);
		sbuf_free(&f->samples);
	}
	free(m->fam);
	m->fam = NULL;
	m->nfam = m->cap = 0;
}
