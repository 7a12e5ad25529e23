/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * sasl.c -- base64 and the parsing of SASL PLAIN, LOGIN and CRAM-MD5
 * messages (see sasl.h).  Pure functions,
 * run unprivileged in the worker and in the auth pool.
 */
#include <stdint.h>
#include <string.h>

#include "compat/compat.h"
#include "sasl.h"
#include "compat/poison.h"

const struct sasl_mech sasl_mechs[] = {
	{ .name = "PLAIN", .id = SASL_MECH_PLAIN, .plaintext = 1 },
	{ .name = "LOGIN", .id = SASL_MECH_LOGIN, .plaintext = 1 },
	{ .name = "CRAM-MD5", .id = SASL_MECH_CRAM_MD5, .lookup = 1 },
	{ .name = "SCRAM-SHA-256", .id = SASL_MECH_SCRAM_SHA256, .lookup = 1,
	    .openssl = 1 },
};
const size_t sasl_nmechs = sizeof(sasl_mechs) / sizeof(sasl_mechs[0]);

const struct sasl_mech *
sasl_mech_find(const char *name)
{
	size_t i;

	for (i = 0; i < sasl_nmechs; i++)
		if (strcmp(sasl_mechs[i].name, name) == 0)
			return &sasl_mechs[i];
	return NULL;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
sasl_b64_encode(const void *src, size_t len, char *dst, size_t dstsz)
{
	const unsigned char *p = src;
	size_t i, o = 0, need;
	uint32_t v;

	need = (len + 2) / 3 * 4 + 1;
	if (len > SIZE_MAX / 2 || dstsz < need)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = b64[(v >> 6) & 63];
		dst[o++] = b64[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		dst[o++] = b64[v >> 18];
		dst[o++] = b64[(v >> 12) & 63];
		dst[o++] = b64[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return (int)o;
}

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
sasl_b64_decode(const char *src, size_t len, void *dst, size_t dstsz)
{
	unsigned char *out = dst;
	size_t i, o = 0, pad = 0;
	int a, b, c, d;

	if (len % 4 != 0)
		return -1;
	if (len >= 1 && src[len - 1] == '=')
		pad++;
	if (len >= 2 && src[len - 2] == '=')
		pad++;
	if (len / 4 * 3 - pad > dstsz)
		return -1;
	for (i = 0; i < len; i += 4) {
		int last = i + 4 == len;

		a = b64_val(src[i]);
		b = b64_val(src[i + 1]);
		c = last && pad == 2 ? 0 : b64_val(src[i + 2]);
		d = last && pad >= 1 ? 0 : b64_val(src[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		/* Padding only at the very end. */
		if (!last && (src[i + 2] == '=' || src[i + 3] == '='))
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		if (!(last && pad == 2))
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (!(last && pad >= 1))
			out[o++] = (unsigned char)((c & 3) << 6 | d);
		/* Unused bits must be zero (canonical encoding). */
		if (last && pad == 2 && (b & 15) != 0)
			return -1;
		if (last && pad == 1 && (c & 3) != 0)
			return -1;
	}
	if (o < dstsz)
		out[o] = '\0';
	return (int)o;
}

int
sasl_plain_parse_authz(const char *msg, size_t len, char *authz,
    size_t authzsz, char *user, size_t usersz, char *pass, size_t passsz)
{
	const char *z1, *z2, *authcid, *pw;
	size_t zlen, ulen, plen;

	if ((z1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	zlen = (size_t)(z1 - msg);
	authcid = z1 + 1;
	if ((z2 = memchr(authcid, '\0', len - zlen - 1)) == NULL)
		return -1;
	ulen = (size_t)(z2 - authcid);
	pw = z2 + 1;
	plen = len - zlen - 1 - ulen - 1;
	/* An authzid equal to the authcid is no authzid at all. */
	if (zlen == ulen && memcmp(msg, authcid, ulen) == 0)
		zlen = 0;
	if (ulen == 0 || plen == 0 || memchr(pw, '\0', plen) != NULL ||
	    ulen >= usersz || plen >= passsz || zlen >= authzsz ||
	    memchr(msg, '\0', zlen) != NULL)
		return -1;
	memcpy(authz, msg, zlen);
	authz[zlen] = '\0';
	memcpy(user, authcid, ulen);
	user[ulen] = '\0';
	memcpy(pass, pw, plen);
	pass[plen] = '\0';
	return 0;
}

int
sasl_plain_parse(const char *msg, size_t len, char *user, size_t usersz,
    char *pass, size_t passsz)
{
	char authz[256];

	if (sasl_plain_parse_authz(msg, len, authz, sizeof(authz), user,
	    usersz, pass, passsz) == -1)
		return -1;
	if (authz[0] != '\0') {
		explicit_bzero(pass, passsz);
		return -1;
	}
	return 0;
}

int
sasl_login_parse(const char *msg, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len >= outsz || memchr(msg, '\0', len) != NULL)
		return -1;
	memcpy(out, msg, len);
	out[len] = '\0';
	return 0;
}

int
sasl_cram_parse(const char *msg, size_t len, char *user, size_t usersz,
    char digest[33])
{
	const char *sp;
	size_t ulen, i;
	char c;

	if (len < 34 || (sp = memchr(msg, ' ', len)) == NULL)
		return -1;
	ulen = (size_t)(sp - msg);
	if (ulen == 0 || ulen >= usersz || len - ulen - 1 != 32 ||
	    memchr(msg, '\0', ulen) != NULL)
		return -1;
	for (i = 0; i < 32; i++) {
		c = sp[1 + i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		digest[i] = c;
	}
	digest[32] = '\0';
	memcpy(user, msg, ulen);
	user[ulen] = '\0';
	return 0;
}
