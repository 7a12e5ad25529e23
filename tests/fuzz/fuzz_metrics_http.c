/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_metrics_http.c -- libFuzzer target for the stats process's HTTP
 * request parser (daemon/lib/stats_http.c).
 *
 * The input is copied into an exactly sized heap buffer (so ASan sees a
 * read past len), parsed whole, then fed again byte by byte as the
 * stats process receives it.  Checked: the result is -1, 0 or 1; a
 * complete head uses at most len bytes and ends with an LF; the fields
 * hold their few legal values; every prefix of a complete head is
 * incomplete (0) or the same complete head, never an error unless the
 * whole is one; an input of STATS_HTTP_MAX bytes or more is never
 * "incomplete".  Any violation calls abort().  Nothing leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats_shm.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_req(const struct stats_http_req *req)
{
	if (req->method < STATS_HTTP_GET || req->method > STATS_HTTP_OTHER ||
	    (req->minor != 0 && req->minor != 1) ||
	    (req->metrics != 0 && req->metrics != 1) ||
	    (req->openmetrics != 0 && req->openmetrics != 1) ||
	    (req->keepalive != 0 && req->keepalive != 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stats_http_req req, req2;
	size_t used, used2, i;
	char *p;
	int r, r2;

	if (size > 2 * STATS_HTTP_MAX)
		return 0;
	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(p, data, size);
	r = stats_http_parse(p, size, &req, &used);
	if (r < -1 || r > 1)
		abort();
	if (r == 0 && size >= STATS_HTTP_MAX)
		abort();
	if (r == 1) {
		if (used == 0 || used > size || p[used - 1] != '\n')
			abort();
		check_req(&req);
	}
	/* As the bytes arrive: the first complete head is the same one. */
	for (i = 0; i <= size; i++) {
		r2 = stats_http_parse(p, i, &req2, &used2);
		if (r2 == 0)
			continue;
		if (r2 == 1) {
			if (r != 1 || used2 != used ||
			    memcmp(&req, &req2, sizeof(req)) != 0)
				abort();
		} else if (r != -1)
			abort();
		break;
	}
	free(p);
	return 0;
}
