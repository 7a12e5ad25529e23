/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_sasl.c -- libFuzzer target for daemon/sasl.c: base64 and the
 * PLAIN, LOGIN and CRAM-MD5 message parsers, the code that reads what a
 * client sends after AUTH.
 *
 * Input: one selector byte, then the payload.  Bits 0-1 of the selector
 * pick the parser (base64, PLAIN, LOGIN, CRAM-MD5); with bit 7 set the
 * payload is first base64-decoded as the worker does with a client's
 * line, else it goes to the parser as decoded bytes.  Bits 2-6 shrink
 * the output buffers, so every "too small" path is taken.  Every buffer
 * is a heap block of exactly the size the function is told, so ASan
 * sees a one-byte overrun.  Checked (abort() on a violation):
 *  - base64: a decoded string re-encodes to exactly the input (the
 *    decoder is strict and canonical); encode then decode gives back
 *    the bytes; the return never exceeds the buffer.
 *  - PLAIN: on success, [authzid] NUL user NUL pass rebuilds the input,
 *    user and pass are non-empty, NUL-free, and authzid is empty or the
 *    user.
 *  - LOGIN: on success the copy equals the input and holds no NUL.
 *  - CRAM-MD5: on success, user SP digest rebuilds the input up to the
 *    case of the hex digits; the digest is 32 lower-case hex digits.
 * No network, no disk; everything freed on every path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_b64(const uint8_t *p, size_t len, size_t shrink)
{
	size_t cap = len / 4 * 3, ecap;
	unsigned char *out;
	char *enc;
	int n, m;

	/* Decode into exactly cap - shrink bytes (at least 1). */
	cap = cap > shrink ? cap - shrink : 1;
	if ((out = malloc(cap)) == NULL)
		abort();
	n = sasl_b64_decode((const char *)p, len, out, cap);
	if (n > (int)cap)
		abort();
	if (n >= 0) {
		ecap = len + 1;
		if ((enc = malloc(ecap)) == NULL)
			abort();
		m = sasl_b64_encode(out, (size_t)n, enc, ecap);
		if (m < 0 || (size_t)m != len || memcmp(enc, p, len) != 0)
			abort();
		free(enc);
	}
	free(out);

	/* Encode the bytes, exact buffer; then decode back. */
	ecap = (len + 2) / 3 * 4 + 1;
	if ((enc = malloc(ecap)) == NULL)
		abort();
	if (sasl_b64_encode(p, len, enc, ecap - 1) != -1)
		abort();	/* one byte short must fail */
	m = sasl_b64_encode(p, len, enc, ecap);
	if (m < 0 || (size_t)m != ecap - 1 || enc[m] != '\0')
		abort();
	if ((out = malloc(len + 1)) == NULL)
		abort();
	n = sasl_b64_decode(enc, (size_t)m, out, len + 1);
	if (n < 0 || (size_t)n != len || memcmp(out, p, len) != 0)
		abort();
	free(out);
	free(enc);
}

static void
check_plain(const char *msg, size_t len, size_t shrink)
{
	size_t usz = len + 1 > shrink ? len + 1 - shrink : 1;
	size_t psz = len + 1 > shrink / 2 ? len + 1 - shrink / 2 : 1;
	size_t ulen, plen, zlen;
	char *user, *pass;

	if ((user = malloc(usz)) == NULL || (pass = malloc(psz)) == NULL)
		abort();
	if (sasl_plain_parse(msg, len, user, usz, pass, psz) == 0) {
		ulen = strlen(user);
		plen = strlen(pass);
		if (ulen == 0 || plen == 0 || ulen >= usz || plen >= psz ||
		    ulen + plen + 2 > len)
			abort();
		zlen = len - ulen - plen - 2;
		if (zlen != 0 && (zlen != ulen || memcmp(msg, user, ulen)))
			abort();
		if (msg[zlen] != '\0' || memcmp(msg + zlen + 1, user, ulen) ||
		    msg[zlen + 1 + ulen] != '\0' ||
		    memcmp(msg + zlen + ulen + 2, pass, plen))
			abort();
	}
	/* The authzid variant (master users): the same split, and an
	 * authzid out only when it differs from the authcid. */
	{
		char *authz;
		size_t asz = len + 1 > shrink / 3 ? len + 1 - shrink / 3 : 1;

		if ((authz = malloc(asz)) == NULL)
			abort();
		if (sasl_plain_parse_authz(msg, len, authz, asz, user, usz,
		    pass, psz) == 0) {
			ulen = strlen(user);
			plen = strlen(pass);
			zlen = strlen(authz);
			if (ulen == 0 || plen == 0 || zlen >= asz ||
			    ulen + plen + zlen + 2 > len)
				abort();
			if (zlen != 0 && (zlen + ulen + plen + 2 != len ||
			    memcmp(msg, authz, zlen) != 0 || (zlen == ulen &&
			    memcmp(authz, user, ulen) == 0)))
				abort();
			if (zlen == 0 && len != ulen + plen + 2 &&
			    (len != 2 * ulen + plen + 2 ||
			    memcmp(msg, user, ulen) != 0))
				abort();
		}
		free(authz);
	}
	free(user);
	free(pass);
}

static void
check_login(const char *msg, size_t len, size_t shrink)
{
	size_t osz = len + 1 > shrink ? len + 1 - shrink : 1;
	char *out;

	if ((out = malloc(osz)) == NULL)
		abort();
	if (sasl_login_parse(msg, len, out, osz) == 0) {
		if (len == 0 || len >= osz || strlen(out) != len ||
		    memcmp(out, msg, len) != 0)
			abort();
	} else if (len > 0 && len < osz && memchr(msg, '\0', len) == NULL)
		abort();	/* a good step was refused */
	free(out);
}

static void
check_cram(const char *msg, size_t len, size_t shrink)
{
	size_t usz = len + 1 > shrink ? len + 1 - shrink : 1;
	char *user, *digest;
	size_t ulen, i;
	char c;

	if ((user = malloc(usz)) == NULL || (digest = malloc(33)) == NULL)
		abort();
	if (sasl_cram_parse(msg, len, user, usz, digest) == 0) {
		ulen = strlen(user);
		if (ulen == 0 || ulen >= usz || ulen + 33 != len ||
		    memcmp(msg, user, ulen) != 0 || msg[ulen] != ' ' ||
		    strchr(user, ' ') != NULL || strlen(digest) != 32)
			abort();
		for (i = 0; i < 32; i++) {
			c = msg[ulen + 1 + i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (digest[i] != c || !((c >= '0' && c <= '9') ||
			    (c >= 'a' && c <= 'f')))
				abort();
		}
	}
	free(user);
	free(digest);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	unsigned char *dec = NULL;
	size_t len, shrink;
	int n;
	uint8_t sel;

	if (size < 1)
		return 0;
	sel = data[0];
	p = data + 1;
	len = size - 1;
	shrink = (sel >> 2) & 31;
	if ((sel & 3) == 0) {
		check_b64(p, len, shrink);
		return 0;
	}
	if (sel & 0x80) {
		/* As the worker does: decode the client's line first. */
		if ((dec = malloc(len / 4 * 3 + 1)) == NULL)
			abort();
		n = sasl_b64_decode((const char *)p, len, dec,
		    len / 4 * 3 + 1);
		if (n < 0) {
			free(dec);
			return 0;
		}
		p = dec;
		len = (size_t)n;
	}
	switch (sel & 3) {
	case 1:
		check_plain((const char *)p, len, shrink);
		break;
	case 2:
		check_login((const char *)p, len, shrink);
		break;
	case 3:
		check_cram((const char *)p, len, shrink);
		break;
	}
	free(dec);
	return 0;
}
