/* SPDX-License-Identifier: MIT */
/*
 * log — one line to stderr per event, "gw: " then the message.  Never keys.
 *
 * Priorities are syslog's: gw's own lines are LOG_ERR (3) .. LOG_DEBUG (7);
 * a LOG target's line has its rule's --log-level (0..7, default 4).
 *
 * The priority prefix: as systemd's own programs do (sd-daemon(3)), a line
 * starts with "<N>" when stderr is journald's stream, i.e. when
 * $JOURNAL_STREAM names stderr's device:inode (systemd.exec(5)); journald
 * then files the line at priority N.  Anywhere else (a terminal, a file, a
 * container runtime's pipe) lines are plain, as before.  GW_LOG_PREFIX=1
 * forces the prefix on, =0 off.
 *
 * Filtering: LogLevel in [Interface] (error|warning|notice|info|debug,
 * default info) is the least urgent priority gw writes of its own lines.
 * LOG target lines are not filtered by it: the rule asked for them, and the
 * kernel's LOG likewise reaches the kernel log whatever the console level.
 *
 * Rate limits: a line that can repeat per packet goes through gw_log_limited
 * with a struct log_limit of its own call site: at most burst lines per
 * interval; the first line after an interval in which lines were dropped
 * comes after "gw: suppressed N messages like the next one".
 *
 * Thread-safe: one write(2) per line; the limits and the level take a lock.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

__attribute__((format(printf, 2, 3)))
void gw_logp(int prio, const char *fmt, ...);
/* The same without the "gw: " in front (file:line: messages of the config). */
__attribute__((format(printf, 2, 3)))
void gw_log_raw(int prio, const char *fmt, ...);

#define gw_err(...) gw_logp(LOG_ERR, __VA_ARGS__)
#define gw_warn(...) gw_logp(LOG_WARNING, __VA_ARGS__)
#define gw_notice(...) gw_logp(LOG_NOTICE, __VA_ARGS__)
#define gw_log(...) gw_logp(LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_logp(LOG_DEBUG, __VA_ARGS__)

/* The least urgent priority written (LOG_ERR..LOG_DEBUG; default LOG_INFO). */
void log_set_level(int prio);
int log_level(void);
/* Would a line of gw's own at prio be written? */
bool log_enabled(int prio);
/* "error".."debug" (also "err", "warn") to LOG_ERR..LOG_DEBUG; -1 if none. */
int log_level_parse(const char *name);
const char *log_level_name(int prio);

/* Decide the "<N>" prefix again from the environment and fd 2 (done once
 * on the first line; again when stderr has changed). */
void log_open(void);
/* Is the "<N>" prefix written (deciding it now if not yet)? */
bool log_prefixed(void);

/* One call site's budget.  Zero-initialised: LOG_LIMIT_BURST lines per
 * LOG_LIMIT_INTERVAL_NS. */
struct log_limit {
	uint64_t start;       /* monotonic ns the current interval began */
	bool started;         /* start is set */
	unsigned n;           /* lines passed in it */
	unsigned suppressed;  /* lines dropped in it (and earlier ones not reported) */
	unsigned burst;       /* 0: LOG_LIMIT_BURST */
};
enum { LOG_LIMIT_BURST = 10, LOG_RULE_BURST = 200 };
#define LOG_LIMIT_INTERVAL_NS 5000000000ull

/* The pure part: may a line pass at now (ns)?  When it may and lines were
 * dropped before it, *reported is how many (reset); else 0. */
bool log_limit_pass(struct log_limit *l, uint64_t now, unsigned *reported);

__attribute__((format(printf, 3, 4)))
void gw_log_limited(struct log_limit *l, int prio, const char *fmt, ...);
/* The same at a given monotonic now (ns). */
__attribute__((format(printf, 4, 5)))
void gw_log_limited_at(struct log_limit *l, uint64_t now, int prio, const char *fmt, ...);
/* A LOG target's line at its rule's level (0..7), under l, never filtered by
 * the LogLevel. */
void gw_log_rule(struct log_limit *l, int level, const char *prefix, const char *line);

#endif
