/* SPDX-License-Identifier: MIT */
#include "nat/sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *s)
{
	s->buf = NULL;
	s->len = s->cap = 0;
	s->oom = false;
	s->secret = false;
}

void sbuf_init_secret(struct sbuf *s)
{
	sbuf_init(s);
	s->secret = true;
}

void sbuf_free(struct sbuf *s)
{
	if (s->secret && s->buf)
		explicit_bzero(s->buf, s->cap);
	free(s->buf);
	sbuf_init(s);
}

void sbuf_reset(struct sbuf *s)
{
	if (s->secret && s->buf)
		explicit_bzero(s->buf, s->len);
	s->len = 0;
	if (s->buf)
		s->buf[0] = '\0';
}

static bool grow(struct sbuf *s, size_t need)
{
	size_t cap = s->cap ? s->cap : 256;
	char *p;

	if (s->oom)
		return false;
	if (s->len + need + 1 <= s->cap)
		return true;
	while (cap < s->len + need + 1)
		cap *= 2;
	if (s->secret) {
		/* no copy of a secret stays behind in freed memory */
		p = malloc(cap);
		if (p && s->buf) {
			memcpy(p, s->buf, s->len + 1);
			explicit_bzero(s->buf, s->cap);
			free(s->buf);
		}
	} else {
		p = realloc(s->buf, cap);
	}
	if (!p) {
		s->oom = true;
		return false;
	}
	s->buf = p;
	s->cap = cap;
	return true;
}

void sbuf_addn(struct sbuf *s, const char *str, size_t n)
{
	if (!grow(s, n))
		return;
	memcpy(s->buf + s->len, str, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

void sbuf_add(struct sbuf *s, const char *str)
{
	sbuf_addn(s, str, strlen(str));
}

void sbuf_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(s, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}
