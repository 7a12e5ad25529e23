/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_proxyproto.c -- libFuzzer target for daemon/lib/proxyproto.c.
 *
 * The input is a byte stream as a haproxy listener would receive it.  It
 * is fed three ways: whole; in chunks whose sizes come from a PRNG
 * seeded by the input; and as the worker reads, pp_want() bytes at a
 * time.  All three must agree on the result, on how many bytes they took
 * and on the header they filled.  Checked besides: a complete header is
 * at most 107 bytes (v1) or 65551 (v2) and the worker's way never takes
 * a byte past it; a v1 header is the input's first line up to its CRLF;
 * a PROXY header has AF_INET or AF_INET6 addresses; pp_want() is at
 * least 1 while more is needed and 0 after; the SSL text fields are
 * NUL-terminated printable ASCII.  Any violation calls abort().  Nothing
 * is allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
check_text(const char *t, size_t size)
{
	size_t n = strnlen(t, size), i;

	if (n == size)
		abort();
	for (i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			abort();
}

static void
check_header(const struct pp_parser *p, const uint8_t *data, size_t size)
{
	const struct pp_header *h = &p->h;

	if (h->length == 0 || h->length > size)
		abort();
	if (h->version == 1) {
		if (h->length > PP_V1_MAX || h->length < 15 ||
		    memcmp(data, "PROXY ", 6) != 0 ||
		    data[h->length - 2] != '\r' || data[h->length - 1] != '\n' ||
		    memchr(data, '\n', h->length - 1) != NULL)
			abort();
	} else if (h->version == 2) {
		if (h->length > PP_V2_MAX || h->length < PP_V2_FIXED ||
		    h->length != PP_V2_FIXED + ((size_t)data[14] << 8 |
		    data[15]))
			abort();
	} else
		abort();
	if (h->command == PP_CMD_PROXY) {
		if ((h->src.ss_family != AF_INET &&
		    h->src.ss_family != AF_INET6) ||
		    h->src.ss_family != h->dst.ss_family ||
		    h->srclen == 0 || h->srclen != h->dstlen)
			abort();
	} else if (h->command != PP_CMD_LOCAL)
		abort();
	if (h->ssl && (!h->ssl_tlv || h->version != 2))
		abort();
	check_text(h->ssl_version, sizeof(h->ssl_version));
	check_text(h->ssl_cipher, sizeof(h->ssl_cipher));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pp_parser a, b, c;
	uint64_t seed = 14695981039346656037ULL;
	size_t i, used, ua, ub = 0, uc = 0, n, want;
	int ra, rb = PP_NEED, rc = PP_NEED;

	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ULL;
	seed |= 1;

	/* Whole. */
	pp_init(&a);
	ra = pp_feed(&a, data, size, &ua);
	if (ra == PP_NEED && ua != size)
		abort();
	if ((ra == PP_NEED) != (pp_want(&a) > 0))
		abort();

	/* Random chunks. */
	pp_init(&b);
	while (ub < size && rb == PP_NEED) {
		n = 1 + (size_t)(rnd(&seed) % (rnd(&seed) % 4 == 0 ? 300 : 8));
		if (n > size - ub)
			n = size - ub;
		rb = pp_feed(&b, data + ub, n, &used);
		if (used > n || (rb == PP_NEED && used != n))
			abort();
		ub += used;
	}

	/* The worker's reads. */
	pp_init(&c);
	while (uc < size && rc == PP_NEED) {
		want = pp_want(&c);
		if (want == 0)
			abort();
		if (want > size - uc)
			want = size - uc;
		rc = pp_feed(&c, data + uc, want, &used);
		if (rc == PP_DONE && used != want)
			abort();	/* read past the header */
		uc += used;
	}

	if (ra != rb || ra != rc || ua != ub || ua != uc)
		abort();
	if (ra == PP_DONE) {
		if (ua != a.h.length)
			abort();
		check_header(&a, data, size);
		if (memcmp(&a.h, &b.h, sizeof(a.h)) != 0 ||
		    memcmp(&a.h, &c.h, sizeof(a.h)) != 0)
			abort();
		if (pp_want(&a) != 0)
			abort();
	} else if (ra == PP_ERROR) {
		if (a.error == NULL || b.error == NULL ||
		    strcmp(a.error, b.error) != 0 ||
		    strcmp(a.error, c.error) != 0 || ua == 0)
			abort();
	}
	return 0;
}
