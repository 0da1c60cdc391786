/* SPDX-License-Identifier: MIT */
#include "gw/rulesfile.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nat/rules.h"

enum { RULES_MAX_BYTES = 16 << 20 };

int rulesfile_read(const char *path, char **text, size_t *len)
{
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap);
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	ssize_t n;

	if (!buf || fd < 0) {
		int e = fd < 0 ? -errno : -ENOMEM;

		free(buf);
		return e;
	}
	for (;;) {
		if (got + 1 >= cap) {
			char *grown;

			if (cap >= RULES_MAX_BYTES) {
				n = -1;
				errno = EFBIG;
				break;
			}
			grown = realloc(buf, cap * 2);
			if (!grown) {
				n = -1;
				errno = ENOMEM;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (n < 0) {
		int e = -errno;

		if (fd != STDIN_FILENO)
			close(fd);
		free(buf);
		return e;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* --uid-owner/--gid-owner names, resolved when the rules load as
 * iptables does (the system's user database, NSS included). */
static int user_id(void *arg, const char *name, uint32_t *id)
{
	const struct passwd *pw = getpwnam(name);

	(void)arg;
	if (!pw)
		return -ENOENT;
	*id = (uint32_t)pw->pw_uid;
	return 0;
}

static int group_id(void *arg, const char *name, uint32_t *id)
{
	const struct group *gr = getgrnam(name);

	(void)arg;
	if (!gr)
		return -ENOENT;
	*id = (uint32_t)gr->gr_gid;
	return 0;
}

int rulesfile_parse(struct rules **out, const char *name, const char *text, size_t len,
		    const struct rules *base, bool counters, char *err, size_t errlen)
{
	return rulesfile_parse_as(out, name, text, len, base, counters, NF_V4, err, errlen);
}

int rulesfile_parse_as(struct rules **out, const char *name, const char *text, size_t len,
		       const struct rules *base, bool counters, uint8_t family, char *err,
		       size_t errlen)
{
	const struct rules_parse_opts opts = { .counters = counters, .user = user_id,
					       .group = group_id, .family = family };
	struct rules_error e;
	int ret = rules_parse_with(out, text, len, base, &opts, &e);

	if (ret == -EINVAL)
		snprintf(err, errlen, "%s:%u: %s", name, e.line, e.message);
	else if (ret)
		snprintf(err, errlen, "%s: %s", name, strerror(-ret));
	return ret;
}

int rulesfile_load(struct rules **out, const char *path, const struct rules *base,
		   bool counters, char *err, size_t errlen)
{
	return rulesfile_load_as(out, path, base, counters, NF_V4, err, errlen);
}

int rulesfile_load_as(struct rules **out, const char *path, const struct rules *base,
		      bool counters, uint8_t family, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int ret = rulesfile_read(path, &text, &len);

	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = rulesfile_parse_as(out, path, text, len, base, counters, family, err, errlen);
	free(text);
	return ret;
}

int rulesfile_load_cfg(struct rules **out, const char *cfgpath, const char *path,
		       const struct rules *base, uint8_t family, char *err, size_t errlen)
{
	char full[PATH_MAX], dir[PATH_MAX];

	if (path[0] != '/') {
		snprintf(dir, sizeof(dir), "%s", cfgpath);
		snprintf(full, sizeof(full), "%s/%s", dirname(dir), path);
		path = full;
	}
	return rulesfile_load_as(out, path, base, false, family, err, errlen);
}
