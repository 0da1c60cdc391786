/* SPDX-License-Identifier: MIT */
/* gw/priv: User lookup, capability sets as text, what the loop needs, and
 * the drop itself (in forked children, when the tests run as root). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/capability.h>

#include "gw/gw.h"
#include "gw/priv.h"
#include "nat/rules.h"

static void test_caps_format(void **state)
{
	static const struct {
		uint64_t caps;
		const char *text;
	} cases[] = {
		/* 1 */ { 0, "none" },
		/* 2 */ { PRIV_CAP(CAP_NET_ADMIN), "cap_net_admin" },
		/* 3 */ { PRIV_CAP(CAP_NET_RAW) | PRIV_CAP(CAP_NET_ADMIN), "cap_net_admin,cap_net_raw" },
		/* 4 */ { PRIV_CAP(CAP_CHOWN) | PRIV_CAP(CAP_SETPCAP), "cap_chown,cap_setpcap" },
		/* 5 */ { PRIV_CAP(63), "cap_63" }, /* no name: its number */
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(priv_caps_format(cases[i].caps, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].text);
	}
	/* exactly fitting, one byte short */
	assert_int_equal(priv_caps_format(PRIV_CAP(CAP_NET_ADMIN), buf, 14), 0);
	assert_int_equal(priv_caps_format(PRIV_CAP(CAP_NET_ADMIN), buf, 13), -ENOSPC);
	assert_int_equal(priv_caps_format(0, buf, 4), -ENOSPC);
	assert_int_equal(priv_caps_format(0, buf, 0), -ENOSPC);
}

static void test_user_lookup(void **state)
{
	struct priv_user u;

	(void)state;
	assert_int_equal(priv_user_lookup("root", &u), 0);
	assert_true(u.set);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	/* a number with a passwd entry takes the entry's group */
	assert_int_equal(priv_user_lookup("0", &u), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	/* a number without one: that number as gid too */
	assert_int_equal(priv_user_lookup("3999999", &u), 0);
	assert_true(u.set);
	assert_int_equal(u.uid, 3999999);
	assert_int_equal(u.gid, 3999999);
	assert_int_equal(priv_user_lookup("gw-no-such-user-here", &u), -ENOENT);
	assert_false(u.set);
	assert_int_equal(priv_user_lookup("12abc", &u), -EINVAL);
	assert_int_equal(priv_user_lookup("4294967295", &u), -EINVAL); /* (uid_t)-1 */
	assert_int_equal(priv_user_lookup("99999999999999999999", &u), -EINVAL);
	assert_false(u.set);
}

static void test_needed(void **state)
{
	static struct gw g;

	(void)state;
	memset(&g, 0, sizeof(g));
	assert_int_equal(priv_needed(&g), 0);		/* a plain WireGuard endpoint */
	g.uplink_on = true;
	assert_int_equal(priv_needed(&g), 0);		/* an uplink without host filters */
	g.uplink.host_owned = true;			/* tc filter and reserved NatPorts */
	assert_int_equal(priv_needed(&g), PRIV_CAP(CAP_NET_ADMIN));
	g.owner_need = RULES_OWNER_SOCKET;		/* uids come from sock_diag */
	assert_int_equal(priv_needed(&g), PRIV_CAP(CAP_NET_ADMIN));
	g.owner_need |= RULES_OWNER_GID;		/* gids from other processes' /proc/PID/fd */
	assert_int_equal(priv_needed(&g), PRIV_CAP(CAP_NET_ADMIN) | PRIV_CAP(CAP_DAC_READ_SEARCH) |
						  PRIV_CAP(CAP_SYS_PTRACE));
}

static void test_read(void **state)
{
	struct priv_state st;

	(void)state;
	assert_int_equal(priv_read(&st), 0);
	assert_int_equal(st.euid, geteuid());
	assert_int_equal(st.egid, getegid());
	assert_int_equal(st.eff & ~st.prm, 0);	/* effective is always within permitted */
}

/* Runs fn in a child; its exit status. */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int drop_to_user(void)
{
	struct priv_user u = { true, 65534, 65534 };
	struct priv_state st;

	if (priv_drop("test", &u, PRIV_CAP(CAP_NET_ADMIN), false))
		return 1;
	if (priv_read(&st) || st.uid != 65534 || st.euid != 65534 || st.gid != 65534 ||
	    st.egid != 65534)
		return 2;
	if (st.eff != PRIV_CAP(CAP_NET_ADMIN) || st.prm != st.eff || st.bnd)
		return 3;
	if (getgroups(0, NULL) != 0)
		return 4;
	/* the drop is for good: switching back is refused */
	if (setuid(0) == 0)
		return 5;
	/* User naming who the process is already (systemd's User= as well):
	 * nothing to switch, though CAP_SETUID is gone */
	if (priv_drop("test", &u, PRIV_CAP(CAP_NET_ADMIN), false))
		return 6;
	if (priv_read(&st) || st.euid != 65534 || st.eff != PRIV_CAP(CAP_NET_ADMIN))
		return 7;
	return 0;
}

static int drop_keep_nothing(void)
{
	struct priv_user none = { 0 }, u = { true, 65534, 65534 };
	struct priv_state st;

	if (priv_drop("test", &none, 0, false))
		return 1;
	if (priv_read(&st) || st.euid != 0 || st.eff || st.prm || st.bnd)
		return 2;
	/* without CAP_SETUID any more, a switch fails cleanly */
	if (priv_drop("test", &u, 0, false) == 0)
		return 3;
	return 0;
}

static void test_drop(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(drop_to_user), 0);
	assert_int_equal(in_child(drop_keep_nothing), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_format),
		cmocka_unit_test(test_user_lookup),
		cmocka_unit_test(test_needed),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
