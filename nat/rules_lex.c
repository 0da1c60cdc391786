/* SPDX-License-Identifier: MIT */
/*
 * rules_lex — one line of iptables-restore input into words, as
 * add_param_to_argv() in iptables 1.8.9 splits it: blanks separate words;
 * "..." quotes, inside which a backslash takes the next character
 * literally; a closing quote ends the word, even an empty one ("" is an
 * empty word); single quotes and carriage returns are ordinary characters.  Words are written
 * back into the line's own buffer (they never grow).
 */
#include <stdio.h>

#include "nat/rules_int.h"

static int lex_fail(struct rules_error *err, const char *token, const char *msg)
{
	snprintf(err->token, sizeof(err->token), "%s", token);
	snprintf(err->message, sizeof(err->message), "%s", msg);
	return -1;
}

int rules_lex(char *buf, char **words, unsigned int max, struct rules_error *err)
{
	char *in = buf, *out = buf, *start = buf;
	bool quoted = false, escaped = false;
	unsigned int n = 0;

	for (; *in; in++) {
		char c = *in;

		if (quoted) {
			if (escaped) {
				*out++ = c;
				escaped = false;
				continue;
			}
			if (c == '\\') {
				escaped = true;
				continue;
			}
			if (c != '"') {
				*out++ = c;
				continue;
			}
			quoted = false;
		} else if (c == '"') {
			quoted = true;
			continue;
		} else if (c != ' ' && c != '\t' && c != '\n') {
			*out++ = c;
			continue;
		} else if (out == start) {
			continue;  /* blanks between words */
		}
		/* a blank after a word, or a closing quote: end the word */
		if (n == max)
			return lex_fail(err, start, "too many words on the line");
		words[n++] = start;
		*out++ = '\0';  /* out <= in + 1: copying stays behind reading */
		start = out;
	}
	if (quoted) {
		*out = '\0';
		return lex_fail(err, start, "unterminated quoted string");
	}
	if (out != start) {
		if (n == max)
			return lex_fail(err, start, "too many words on the line");
		*out = '\0';
		words[n++] = start;
	}
	return (int)n;
}
