/* SPDX-License-Identifier: MIT */
#include "gw/log.h"

#include <stdarg.h>
#include <stdio.h>

void gw_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gw: %s\n", line);
}
