/* SPDX-License-Identifier: MIT */
/* Reading a rules file (iptables-restore format) into a ruleset. */
#ifndef GW_RULESFILE_H
#define GW_RULESFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rules;

/* Load path on top of base (may be NULL); owner names through the user
 * database; counters: take the file's [packets:bytes] (iptables-restore
 * -c), else everything starts at [0:0].  Returns 0, or a negative errno
 * with "FILE:LINE: message" (or "FILE: reason") in err. */
int rulesfile_load(struct rules **out, const char *path, const struct rules *base,
		   bool counters, char *err, size_t errlen);
/* The same for text already read; name is used in messages. */
int rulesfile_parse(struct rules **out, const char *name, const char *text, size_t len,
		    const struct rules *base, bool counters, char *err, size_t errlen);
/* The same for a family: NF_V4 (iptables-restore text, as the two above)
 * or NF_V6 (ip6tables-restore text). */
int rulesfile_load_as(struct rules **out, const char *path, const struct rules *base,
		      bool counters, uint8_t family, char *err, size_t errlen);
int rulesfile_parse_as(struct rules **out, const char *name, const char *text, size_t len,
		       const struct rules *base, bool counters, uint8_t family, char *err,
		       size_t errlen);
/* Read a whole file (at most 16 MiB) into a NUL-terminated buffer. */
int rulesfile_read(const char *path, char **text, size_t *len);

/* A Rules / Rules6 file named in the config at cfgpath: a relative path is
 * relative to the config's directory.  As rulesfile_load_as, without
 * counters. */
int rulesfile_load_cfg(struct rules **out, const char *cfgpath, const char *path,
		       const struct rules *base, uint8_t family, char *err, size_t errlen);

#endif
