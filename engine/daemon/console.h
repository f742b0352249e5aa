/* SPDX-License-Identifier: Apache-2.0 */
/* The compliance console's static files, embedded at build time from
 * console/ by scripts/embed_assets.py (console_assets.c, generated). */
#pragma once
#include <stddef.h>

typedef struct sg__console_asset {
	const char *name;         /* "index.html", "console.js", ... */
	const char *content_type;
	const unsigned char *data;
	size_t len;
} sg__console_asset;

/* Terminated by an entry with name NULL. */
extern const sg__console_asset sg__console_assets[];
