/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password_digest.c -- the stored forms Dovecot's passwd-files and SQL
 * tables hold besides crypt(3): {SHA} {SSHA} {SHA256} {SSHA256}
 * {SHA512} {SSHA512} {SMD5} {PLAIN-MD5} {LDAP-MD5} (digest, optionally
 * salted, base64 or hex), {PBKDF2} ("$1$salt$rounds$hex", HMAC-SHA1),
 * {ARGON2I}/{ARGON2ID} (libargon2), and the decoding of ".b64"/".hex"
 * values.  SHA and PBKDF2 come from OpenSSL; without it those schemes
 * are refused by password.c with a message.  Pure code; runs in the
 * auth pool (root) and in satchel-passwd.  Every comparison of secret
 * bytes is constant-time.
 *
 * Caution: nothing here logs; errors are static strings that name the
 * problem, never a stored byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_OPENSSL
#include <openssl/evp.h>
#endif
#ifdef HAVE_ARGON2
#include <argon2.h>
#endif

#include "compat/compat.h"
#include "md5.h"
#include "password_int.h"
#include "sasl.h"
#include "compat/poison.h"

#define PW_PBKDF2_KEYLEN	20	/* SHA-1 */

static int	pw_hexval(int);
static int	pw_hex_decode(const char *, unsigned char *, size_t);
static int	pw_digest(enum pw_alg, const char *, const unsigned char *,
		    size_t, unsigned char *);

void
pw_wipe(void *p, size_t len)
{
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
}

static int
pw_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
pw_hex_decode(const char *in, unsigned char *out, size_t outsz)
{
	size_t len = strlen(in), i;
	int hi, lo;

	if (len % 2 != 0 || len / 2 > outsz)
		return -1;
	for (i = 0; i < len / 2; i++) {
		if ((hi = pw_hexval((unsigned char)in[2 * i])) < 0 ||
		    (lo = pw_hexval((unsigned char)in[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

int
pw_decode(const char *in, enum pw_enc enc, unsigned char *out, size_t outsz)
{
	int n;

	switch (enc) {
	case PW_ENC_NONE:
		n = (int)strlen(in);
		if ((size_t)n > outsz)
			return -1;
		memcpy(out, in, (size_t)n);
		return n;
	case PW_ENC_HEX:
		/* As Dovecot does: a value that is not hex may be base64. */
		if ((n = pw_hex_decode(in, out, outsz)) >= 0)
			return n;
		/* FALLTHROUGH */
	case PW_ENC_B64:
		return sasl_b64_decode(in, strlen(in), out, outsz);
	}
	return -1;
}

size_t
pw_alg_len(enum pw_alg alg)
{
	switch (alg) {
	case PW_ALG_MD5:
		return 16;
#ifdef HAVE_OPENSSL
	case PW_ALG_SHA1:
		return 20;
	case PW_ALG_SHA256:
		return 32;
	case PW_ALG_SHA512:
		return 64;
#endif
	default:
		return 0;
	}
}

/* out = alg(password || salt); 0 or -1. */
static int
pw_digest(enum pw_alg alg, const char *password, const unsigned char *salt,
    size_t saltlen, unsigned char *out)
{
	if (alg == PW_ALG_MD5) {
		struct satchel_md5 ctx;

		md5_init(&ctx);
		md5_update(&ctx, password, strlen(password));
		md5_update(&ctx, salt, saltlen);
		md5_final(&ctx, out);
		return 0;
	}
#ifdef HAVE_OPENSSL
	{
		const EVP_MD *md = alg == PW_ALG_SHA1 ? EVP_sha1() :
		    alg == PW_ALG_SHA256 ? EVP_sha256() : EVP_sha512();
		EVP_MD_CTX *ctx;
		unsigned int len;
		int ok;

		if ((ctx = EVP_MD_CTX_new()) == NULL)
			return -1;
		ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
		    EVP_DigestUpdate(ctx, password, strlen(password)) == 1 &&
		    EVP_DigestUpdate(ctx, salt, saltlen) == 1 &&
		    EVP_DigestFinal_ex(ctx, out, &len) == 1;
		EVP_MD_CTX_free(ctx);
		return ok ? 0 : -1;
	}
#else
	return -1;
#endif
}

int
pw_digest_verify(enum pw_alg alg, int salted, const unsigned char *raw,
    size_t rawlen, const char *password, const char **why_r)
{
	unsigned char d[64];
	size_t dlen = pw_alg_len(alg);
	int r;

	if (dlen == 0) {
		*why_r = "needs a build with OpenSSL";
		return -1;
	}
	if ((!salted && rawlen != dlen) || (salted && rawlen <= dlen)) {
		*why_r = salted ? "value too short for a salted digest" :
		    "value has the wrong length for this digest";
		return -1;
	}
	if (pw_digest(alg, password, raw + dlen, salted ? rawlen - dlen : 0,
	    d) == -1) {
		*why_r = "digest failed";
		return -1;
	}
	r = timingsafe_bcmp(d, raw, dlen) == 0 ? 1 : 0;
	pw_wipe(d, sizeof(d));
	return r;
}

/* Up to n '$'-separated fields of s (copied to buf); the count, or -1. */
static int
pw_split(const char *s, char *buf, size_t bufsz, char **f, int n)
{
	char *p;
	int k = 0;

	if (strlcpy(buf, s, bufsz) >= bufsz)
		return -1;
	for (p = buf; k < n; k++) {
		f[k] = p;
		if ((p = strchr(p, '$')) == NULL)
			return k + 1;
		*p++ = '\0';
	}
	return -1;	/* more fields than expected */
}

/* A decimal number in [lo, hi]: 0, or -1. */
static int
pw_number(const char *s, unsigned long lo, unsigned long hi,
    unsigned long *v)
{
	unsigned long n = 0;

	if (*s == '\0' || strlen(s) > 10)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (n < lo || n > hi)
		return -1;
	*v = n;
	return 0;
}

int
pw_pbkdf2_verify(const char *data, const char *password, int dummy,
    const char **why_r)
{
#ifdef HAVE_OPENSSL
	unsigned char want[PW_PBKDF2_KEYLEN], got[PW_PBKDF2_KEYLEN];
	char buf[PW_RAW_MAX], *f[5];
	unsigned long rounds;
	int r;

	/* "$1$salt$rounds$hex": fields "", "1", salt, rounds, hex. */
	if (pw_split(data, buf, sizeof(buf), f, 5) != 5 || f[0][0] != '\0' ||
	    strcmp(f[1], "1") != 0) {
		*why_r = "not of the form $1$salt$rounds$hash";
		return -1;
	}
	if (pw_number(f[3], 1, PW_PBKDF2_ROUNDS_MAX, &rounds) == -1) {
		*why_r = "rounds not a number from 1 to 10000000";
		return -1;
	}
	if (strlen(f[4]) != 2 * sizeof(want) ||
	    pw_hex_decode(f[4], want, sizeof(want)) != (int)sizeof(want)) {
		*why_r = "hash is not 40 hex digits";
		return -1;
	}
	if (PKCS5_PBKDF2_HMAC_SHA1(password, (int)strlen(password),
	    (const unsigned char *)f[2], (int)strlen(f[2]), (int)rounds,
	    (int)sizeof(got), got) != 1) {
		*why_r = "PBKDF2 failed";
		return -1;
	}
	r = timingsafe_bcmp(want, got, sizeof(want)) == 0 ? 1 : 0;
	pw_wipe(got, sizeof(got));
	pw_wipe(buf, sizeof(buf));
	return dummy ? 0 : r;
#else
	*why_r = "needs a build with OpenSSL";
	return -1;
#endif
}

/*
 * "$argon2X$[v=N$]m=M,t=T,p=P$salt$hash": check the form and that the
 * costs are within our ceilings before libargon2 allocates M KiB.
 */
int
pw_argon2_check(const char *data, const char **why_r)
{
	char buf[PW_RAW_MAX], *f[6], *p, *q;
	unsigned long m = 0, t = 0, par = 0, v;
	int n, i, params;

	n = pw_split(data, buf, sizeof(buf), f, 6);
	if (n < 5 || f[0][0] != '\0' || (strcmp(f[1], "argon2i") != 0 &&
	    strcmp(f[1], "argon2id") != 0)) {
		*why_r = "not an $argon2i$ or $argon2id$ hash";
		return -1;
	}
	params = n == 6 ? 3 : 2;
	if (n == 6 && strncmp(f[2], "v=", 2) != 0) {
		*why_r = "malformed version field";
		return -1;
	}
	for (p = f[params], i = 0; p != NULL && *p != '\0'; p = q, i++) {
		if ((q = strchr(p, ',')) != NULL)
			*q++ = '\0';
		if (strlen(p) < 3 || p[1] != '=' ||
		    pw_number(p + 2, 1, 0xffffffffUL, &v) == -1)
			break;
		if (p[0] == 'm')
			m = v;
		else if (p[0] == 't')
			t = v;
		else if (p[0] == 'p')
			par = v;
	}
	if (i != 3 || m == 0 || t == 0 || par == 0) {
		*why_r = "malformed m=,t=,p= parameters";
		return -1;
	}
	if (m > PW_ARGON2_MEMORY_MAX || t > PW_ARGON2_TIME_MAX || par > 16) {
		*why_r = "costs above m=1048576 (1 GiB), t=64, p=16";
		return -1;
	}
	if (f[params + 1][0] == '\0' || f[params + 2][0] == '\0') {
		*why_r = "empty salt or hash";
		return -1;
	}
	return 0;
}

int
pw_argon2_verify(const char *data, const char *password, int dummy,
    const char **why_r)
{
#ifdef HAVE_ARGON2
	argon2_type type;
	int r;

	if (pw_argon2_check(data, why_r) == -1)
		return -1;
	type = strncmp(data, "$argon2id$", 10) == 0 ? Argon2_id : Argon2_i;
	/* libargon2 compares in constant time (argon2_compare). */
	r = argon2_verify(data, password, strlen(password), type);
	if (r == ARGON2_OK)
		return dummy ? 0 : 1;
	if (r == ARGON2_VERIFY_MISMATCH)
		return 0;
	*why_r = argon2_error_message(r);
	return dummy ? 0 : -1;
#else
	*why_r = "needs a build with libargon2 (configure --with-argon2; "
	    "Debian: libargon2-dev)";
	return -1;
#endif
}
