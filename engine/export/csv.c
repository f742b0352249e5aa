/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 4180 CSV reading (see csv.h). */
#include <errno.h>
#include <string.h>

#include "csv.h"
#include "internal.h"

void sg__csv_init_mem(sg__csv *c, const char *data, size_t len)
{
	memset(c, 0, sizeof(*c));
	c->data = data;
	c->len = len;
}

void sg__csv_init_file(sg__csv *c, FILE *fp)
{
	memset(c, 0, sizeof(*c));
	c->fp = fp;
}

static int getch(sg__csv *c)
{
	if (c->fp)
		return fgetc(c->fp);
	return c->pos < c->len ? (unsigned char)c->data[c->pos++] : EOF;
}

static void ungetch(sg__csv *c, int ch)
{
	if (ch == EOF)
		return;
	if (c->fp)
		ungetc(ch, c->fp);
	else
		c->pos--;
}

int sg__csv_next(sg__csv *c)
{
	size_t n = 0;
	int ch;
	bool quoted = false, after_quote = false, any = false;
	if (!c->started) {
		c->started = 1;
		c->line = 0;
		/* skip a UTF-8 byte order mark */
		int a = getch(c);
		if (a == 0xEF) {
			int b = getch(c), d = getch(c);
			if (b != 0xBB || d != 0xBF)
				return -EINVAL;
		} else {
			ungetch(c, a);
		}
	}
	c->line++;
	c->nfields = 0;
	c->fields[c->nfields++] = c->buf;
	for (;;) {
		ch = getch(c);
		if (ch == EOF) {
			if (quoted)
				return -EINVAL;
			if (!any)
				return 0;
			break;
		}
		any = true;
		if (quoted) {
			if (ch == '"') {
				int nx = getch(c);
				if (nx == '"') {
					ch = '"';
				} else {
					ungetch(c, nx);
					quoted = false;
					after_quote = true;
					continue;
				}
			} else if (ch == '\n') {
				c->line++;
			}
		} else if (ch == '"') {
			if (after_quote || c->buf + n != c->fields[c->nfields - 1])
				return -EINVAL; /* quote inside an unquoted field */
			quoted = true;
			continue;
		} else if (ch == ',') {
			if (n >= sizeof(c->buf) - 1 || c->nfields >= SG__CSV_MAX_FIELDS)
				return SG_ETOOLONG;
			c->buf[n++] = '\0';
			c->fields[c->nfields++] = c->buf + n;
			after_quote = false;
			continue;
		} else if (ch == '\r') {
			int nx = getch(c);
			if (nx != '\n')
				ungetch(c, nx);
			break;
		} else if (ch == '\n') {
			break;
		} else if (after_quote) {
			return -EINVAL; /* text after a closing quote */
		}
		if (n >= sizeof(c->buf) - 1)
			return SG_ETOOLONG;
		c->buf[n++] = (char)ch;
	}
	c->buf[n] = '\0';
	return 1;
}
