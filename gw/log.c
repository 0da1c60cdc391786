/* SPDX-License-Identifier: MIT */
#include "gw/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int max_prio = LOG_INFO;
static int use_prefix = -1; /* "<N>" in front; -1: not decided yet */

static const char *const names[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int log_level_parse(const char *name)
{
	for (int p = LOG_ERR; p <= LOG_DEBUG; p++)
		if (!strcasecmp(name, names[p]))
			return p;
	if (!strcasecmp(name, "err"))
		return LOG_ERR;
	if (!strcasecmp(name, "warn"))
		return LOG_WARNING;
	return -1;
}

const char *log_level_name(int prio)
{
	return prio >= LOG_ERR && prio <= LOG_DEBUG ? names[prio] : "?";
}

void log_set_level(int prio)
{
	if (prio < LOG_ERR)
		prio = LOG_ERR;
	if (prio > LOG_DEBUG)
		prio = LOG_DEBUG;
	__atomic_store_n(&max_prio, prio, __ATOMIC_RELAXED);
}

int log_level(void)
{
	return __atomic_load_n(&max_prio, __ATOMIC_RELAXED);
}

bool log_enabled(int prio)
{
	return prio <= log_level();
}

/* sd-daemon(3)'s rule: journald's stream is stderr when $JOURNAL_STREAM
 * ("DEV:INODE") is stderr's device and inode. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	return fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static int decide_prefix(void)
{
	const char *force = getenv("GW_LOG_PREFIX");

	if (force && (!strcmp(force, "0") || !strcmp(force, "1")))
		return force[0] == '1';
	return stderr_is_journal();
}

void log_open(void)
{
	int p = decide_prefix();

	pthread_mutex_lock(&lock);
	use_prefix = p;
	pthread_mutex_unlock(&lock);
}

bool log_prefixed(void)
{
	int p;

	pthread_mutex_lock(&lock);
	if (use_prefix < 0)
		use_prefix = decide_prefix();
	p = use_prefix;
	pthread_mutex_unlock(&lock);
	return p;
}

/* One line, written whole; the caller holds lock. */
static void emit(int prio, const char *gw, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0;
	int r;

	if (use_prefix < 0)
		use_prefix = decide_prefix();
	if (use_prefix)
		n = (size_t)snprintf(line, sizeof(line), "<%d>", prio & 7);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s", gw);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* stderr is ours to write: a short write or an error has nowhere to go */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

static void emitf(int prio, const char *gw, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(prio, gw, fmt, ap);
	va_end(ap);
}

void gw_logp(int prio, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(prio))
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&lock);
	emit(prio, "gw: ", fmt, ap);
	pthread_mutex_unlock(&lock);
	va_end(ap);
}

void gw_log_raw(int prio, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(prio))
		return;
	va_start(ap, fmt);
	pthread_mutex_lock(&lock);
	emit(prio, "", fmt, ap);
	pthread_mutex_unlock(&lock);
	va_end(ap);
}

bool log_limit_pass(struct log_limit *l, uint64_t now, unsigned *reported)
{
	unsigned burst = l->burst ? l->burst : LOG_LIMIT_BURST;

	*reported = 0;
	if (!l->started || now - l->start >= LOG_LIMIT_INTERVAL_NS) {
		l->started = true;
		l->start = now;
		l->n = 0;
	}
	if (l->n >= burst) {
		l->suppressed++;
		return false;
	}
	l->n++;
	*reported = l->suppressed;
	l->suppressed = 0;
	return true;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Under lock: may the line pass l at now; the "suppressed" line first if due. */
static bool limit_locked(struct log_limit *l, uint64_t now, int prio)
{
	unsigned dropped;

	if (!log_limit_pass(l, now, &dropped))
		return false;
	if (dropped)
		emitf(prio, "gw: ", "suppressed %u messages like the next one", dropped);
	return true;
}

static void limited(struct log_limit *l, uint64_t now, int prio, const char *fmt, va_list ap)
{
	if (!log_enabled(prio))
		return;
	pthread_mutex_lock(&lock);
	if (limit_locked(l, now, prio))
		emit(prio, "gw: ", fmt, ap);
	pthread_mutex_unlock(&lock);
}

void gw_log_limited(struct log_limit *l, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	limited(l, mono_ns(), prio, fmt, ap);
	va_end(ap);
}

void gw_log_limited_at(struct log_limit *l, uint64_t now, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	limited(l, now, prio, fmt, ap);
	va_end(ap);
}

void gw_log_rule(struct log_limit *l, int level, const char *prefix, const char *line)
{
	pthread_mutex_lock(&lock);
	if (limit_locked(l, mono_ns(), level))
		emitf(level, "gw: ", "%s%s", prefix ? prefix : "", line);
	pthread_mutex_unlock(&lock);
}
