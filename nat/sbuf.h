/* SPDX-License-Identifier: MIT */
/* sbuf — a growable text buffer for the control path (save, list, trace). */
#ifndef GW_NAT_SBUF_H
#define GW_NAT_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
	char *buf;      /* NUL-terminated when len > 0 or after sbuf_init */
	size_t len, cap;
	bool oom;       /* an allocation failed: the text is incomplete */
	bool secret;    /* holds keys: zeroed when it grows, resets or is freed */
};

void sbuf_init(struct sbuf *s);
/* The same for text that holds keys (control and UAPI requests, configs). */
void sbuf_init_secret(struct sbuf *s);
void sbuf_free(struct sbuf *s);
void sbuf_reset(struct sbuf *s);
void sbuf_add(struct sbuf *s, const char *str);
void sbuf_addn(struct sbuf *s, const char *str, size_t n);
__attribute__((format(printf, 2, 3)))
void sbuf_printf(struct sbuf *s, const char *fmt, ...);

#endif
