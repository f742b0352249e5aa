/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check's read of a recipient record (handle.h): the same lookup and
 * decoder as sg__rcpt_read (consent.c), with every cache line of the value
 * requested before the decoder walks it, so that its misses overlap
 * instead of following one another.
 */
#include <string.h>

#include "internal.h"
#include "store/consent.h"
#include "store/store.h"

int sg__rcpt_read_check(sg__store *st, sg__txn *txn, const char *key, size_t len, sg__rcpt *out)
{
	MDB_val k = sg__val(key, len), val;
	int rc = mdb_get(txn, st->recipients, &k, &val);
	if (rc == MDB_NOTFOUND)
		return SG_ENOTFOUND;
	if (rc)
		return sg__store_err(rc);
	const char *p = val.mv_data;
	for (size_t off = 64; off < val.mv_size; off += 64)
		__builtin_prefetch(p + off);
	return sg__rcpt_decode(val.mv_data, val.mv_size, out); /* 0 or SG_ECORRUPT */
}
