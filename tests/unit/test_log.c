/* SPDX-License-Identifier: MIT */
/*
 * gw/log: the "<N>" priority prefix (forced, and decided from
 * $JOURNAL_STREAM against stderr's device:inode as sd-daemon(3) programs
 * do), the LogLevel filter (LOG target lines pass it at their own level),
 * and the per-call-site rate limit with its "suppressed N" line.  Lines are
 * read back from a file that stands in for stderr.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw/log.h"

#define SEC 1000000000ull

static int saved_stderr = -1;
static char path[] = "/tmp/test_log.XXXXXX";
static char out[16384];

/* stderr into a fresh temporary file */
static void capture(void)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	if (saved_stderr < 0)
		saved_stderr = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	close(fd);
}

/* back to the real stderr; what was written, in out */
static const char *captured(void)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	dup2(saved_stderr, STDERR_FILENO);
	return out;
}

static void test_limit_pass(void **state)
{
	struct log_limit l = { 0 }, five = { .burst = 5 };
	unsigned rep;

	(void)state;
	/* a clock that starts at 0 starts an interval too */
	for (unsigned i = 0; i < LOG_LIMIT_BURST; i++) {
		assert_true(log_limit_pass(&l, i, &rep));
		assert_int_equal(rep, 0);
	}
	for (unsigned i = 0; i < 7; i++)
		assert_false(log_limit_pass(&l, LOG_LIMIT_INTERVAL_NS - 1, &rep));
	/* the next interval: the first line reports the 7, once */
	assert_true(log_limit_pass(&l, LOG_LIMIT_INTERVAL_NS, &rep));
	assert_int_equal(rep, 7);
	assert_true(log_limit_pass(&l, LOG_LIMIT_INTERVAL_NS + 1, &rep));
	assert_int_equal(rep, 0);
	/* a quiet stretch of many intervals: a fresh budget, nothing to report */
	assert_true(log_limit_pass(&l, 3600 * SEC, &rep));
	assert_int_equal(rep, 0);
	/* a burst of its own */
	for (unsigned i = 0; i < 5; i++)
		assert_true(log_limit_pass(&five, 10 * SEC, &rep));
	assert_false(log_limit_pass(&five, 10 * SEC, &rep));
	assert_false(log_limit_pass(&five, 10 * SEC, &rep));
	assert_true(log_limit_pass(&five, 15 * SEC, &rep));
	assert_int_equal(rep, 2);
}

static void test_level_names(void **state)
{
	static const struct { const char *name; int prio; } t[] = {
		/* 1 */ { "error", LOG_ERR },
		/* 2 */ { "Warning", LOG_WARNING },
		/* 3 */ { "notice", LOG_NOTICE },
		/* 4 */ { "INFO", LOG_INFO },
		/* 5 */ { "debug", LOG_DEBUG },
		/* 6 */ { "err", LOG_ERR },
		/* 7 */ { "warn", LOG_WARNING },
		/* 8 */ { "verbose", -1 },
		/* 9 */ { "6", -1 },
		/* 10 */ { "", -1 },
		/* 11 */ { "crit", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (log_level_parse(t[i].name) != t[i].prio)
			fail_msg("case %zu: '%s' -> %d, want %d", i + 1, t[i].name,
				 log_level_parse(t[i].name), t[i].prio);
	for (int p = LOG_ERR; p <= LOG_DEBUG; p++)
		assert_int_equal(log_level_parse(log_level_name(p)), p);
}

/* LogLevel = warning: errors and warnings only; a LOG rule's line at its
 * own level (debug too) whatever the LogLevel. */
static void test_filter(void **state)
{
	struct log_limit l = { 0 };

	(void)state;
	setenv("GW_LOG_PREFIX", "1", 1);
	log_open();
	log_set_level(LOG_WARNING);
	assert_true(log_enabled(LOG_ERR));
	assert_true(log_enabled(LOG_WARNING));
	assert_false(log_enabled(LOG_NOTICE));
	capture();
	gw_err("gw0: e %d", 1);
	gw_warn("gw0: w");
	gw_notice("gw0: n");
	gw_log("gw0: i");
	gw_debug("gw0: d");
	gw_log_raw(LOG_ERR, "gw0.conf:3: raw");
	gw_log_raw(LOG_INFO, "gw0.conf:4: raw info");
	gw_log_rule(&l, 7, "IN ", "SRC=10.8.0.2");
	gw_log_rule(&l, 0, NULL, "SRC=10.8.0.3");
	assert_string_equal(captured(), "<3>gw: gw0: e 1\n"
					"<4>gw: gw0: w\n"
					"<3>gw0.conf:3: raw\n"
					"<7>gw: IN SRC=10.8.0.2\n"
					"<0>gw: SRC=10.8.0.3\n");
	log_set_level(LOG_DEBUG);
	capture();
	gw_debug("d");
	gw_log("i");
	assert_string_equal(captured(), "<7>gw: d\n<6>gw: i\n");
	/* out of range: clamped to error..debug */
	log_set_level(0);
	assert_int_equal(log_level(), LOG_ERR);
	log_set_level(99);
	assert_int_equal(log_level(), LOG_DEBUG);
	log_set_level(LOG_INFO);
	unsetenv("GW_LOG_PREFIX");
}

/* sd-daemon(3): the prefix when $JOURNAL_STREAM is stderr's dev:ino only. */
static void test_journal_stream(void **state)
{
	struct stat st;
	char env[64];

	(void)state;
	unsetenv("GW_LOG_PREFIX");
	capture();
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_open();
	gw_log("journal");
	/* another stream (stderr was redirected after systemd set it) */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	log_open();
	gw_log("file");
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_open();
	gw_log("garbage");
	unsetenv("JOURNAL_STREAM");
	log_open();
	gw_warn("none");
	/* forced off even where journald listens */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	setenv("GW_LOG_PREFIX", "0", 1);
	log_open();
	gw_err("forced off");
	assert_string_equal(captured(),
			    "<6>gw: journal\ngw: file\ngw: garbage\ngw: none\ngw: forced off\n");
	unsetenv("JOURNAL_STREAM");
	unsetenv("GW_LOG_PREFIX");
	log_open();
}

/* A call site's lines at a given clock: the burst, then silence, then the
 * count of what was dropped before the next line; under the LogLevel, the
 * site's lines are neither written nor counted. */
static void test_limited(void **state)
{
	struct log_limit l = { .burst = 3 }, quiet = { 0 };
	uint64_t t0 = 100 * SEC;

	(void)state;
	setenv("GW_LOG_PREFIX", "1", 1);
	log_open();
	capture();
	for (int i = 0; i < 8; i++)
		gw_log_limited_at(&l, t0 + (uint64_t)i, LOG_ERR, "gw0: tun write: %d", i);
	gw_log_limited_at(&l, t0 + LOG_LIMIT_INTERVAL_NS, LOG_ERR, "gw0: tun write: %d", 8);
	gw_log_limited_at(&l, t0 + LOG_LIMIT_INTERVAL_NS + 1, LOG_ERR, "gw0: tun write: %d", 9);
	log_set_level(LOG_ERR);
	for (int i = 0; i < 20; i++)
		gw_log_limited_at(&quiet, t0, LOG_WARNING, "hidden");
	gw_log_limited_at(&quiet, t0, LOG_ERR, "shown");
	log_set_level(LOG_INFO);
	assert_string_equal(captured(), "<3>gw: gw0: tun write: 0\n"
					"<3>gw: gw0: tun write: 1\n"
					"<3>gw: gw0: tun write: 2\n"
					"<3>gw: suppressed 5 messages like the next one\n"
					"<3>gw: gw0: tun write: 8\n"
					"<3>gw: gw0: tun write: 9\n"
					"<3>gw: shown\n");
	assert_int_equal(quiet.suppressed, 0);
	unsetenv("GW_LOG_PREFIX");
	log_open();
}

/* A line longer than the buffer is cut, still one line with its newline. */
static void test_long_line(void **state)
{
	char big[3000];
	const char *s;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("GW_LOG_PREFIX", "0", 1);
	log_open();
	capture();
	gw_log("%s", big);
	gw_log("after");
	s = captured();
	assert_int_equal(strncmp(s, "gw: xxx", 7), 0);
	assert_non_null(strstr(s, "x\ngw: after\n"));
	assert_int_equal(strchr(s, '\n') - s, 1022);
	unsetenv("GW_LOG_PREFIX");
	log_open();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_pass),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_limited),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
