/* SPDX-License-Identifier: MIT */
/* syscall_filter FILE CMD [ARG...]: runs CMD under a seccomp filter that
 * allows the system calls named in FILE (one per line) and kills the
 * process on any other, as systemd's SystemCallFilter= does; names this
 * architecture lacks are skipped.  tests/netns/84-sandbox.sh runs gw so
 * under the set of systemd-analyze syscall-filter @system-service. */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[128];
	scmp_filter_ctx ctx;
	unsigned n = 0;
	FILE *f;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: syscall_filter FILE CMD [ARG...]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!f || !ctx) {
		fprintf(stderr, "syscall_filter: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		int nr;

		line[strcspn(line, "\n")] = 0;
		if (!line[0])
			continue;
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			fprintf(stderr, "syscall_filter: %s: %s\n", line, strerror(-rc));
			return 1;
		}
		n++;
	}
	fclose(f);
	if (n < 10 || (rc = seccomp_load(ctx)) < 0) {
		fprintf(stderr, "syscall_filter: %u calls: %s\n", n, n < 10 ? "too few" : strerror(-rc));
		return 1;
	}
	execvp(argv[2], argv + 2);
	return 127; /* execve is not in FILE: killed above instead */
}
