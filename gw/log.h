/* SPDX-License-Identifier: MIT */
/* log — one line to stderr per event, prefixed "gw: ".  Never keys. */
#ifndef GW_LOG_H
#define GW_LOG_H

__attribute__((format(printf, 1, 2)))
void gw_log(const char *fmt, ...);

#endif
