/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password.c -- the password schemes every auth module shares: "{PLAIN}"
 * and "{CLEAR}" secrets, and crypt(3) hashes through libxcrypt's
 * crypt_r() ("{CRYPT}", "{SHA512-CRYPT}", "{SHA256-CRYPT}",
 * "{BLF-CRYPT}", "{YESCRYPT}" or a bare "$id$..." hash), and, with
 * OpenSSL, "{SCRAM-SHA-256}" stored keys.  Runs in the auth pool (root)
 * and in satchel-passwd.  Not thread-safe: one static struct crypt_data serves the
 * process, and is wiped after every use.
 *
 * Caution: nothing here may log a password or a stored value.  Messages
 * name the scheme at most.
 */
#include <sys/random.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "compat/compat.h"
#include "log.h"
#include "md5.h"
#include "password.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"

/* Scheme classes: how the data after "{SCHEME}" is checked. */
enum pw_kind {
	PW_PLAIN,	/* the secret itself */
	PW_CRYPT,	/* any hash crypt_r() accepts */
	PW_SCRAM,	/* SCRAM-SHA-256 stored keys */
};

struct pw_scheme {
	const char	*name;
	enum pw_kind	 kind;
	const char	*prefixes;	/* '|'-separated, NULL: any hash */
	const char	*gensalt;	/* prefix for crypt_gensalt_rn */
	unsigned long	 rounds;	/* 0: libxcrypt's default cost */
};

static const struct pw_scheme pw_schemes[] = {
	{ "PLAIN",		PW_PLAIN, NULL, NULL, 0 },
	{ "CLEAR",		PW_PLAIN, NULL, NULL, 0 },
	{ "CRYPT",		PW_CRYPT, NULL, NULL, 0 },
	{ "SHA512-CRYPT",	PW_CRYPT, "$6$", "$6$", 0 },
	{ "SHA256-CRYPT",	PW_CRYPT, "$5$", "$5$", 0 },
	{ "BLF-CRYPT",		PW_CRYPT, "$2b$|$2y$|$2a$", "$2b$", 10 },
	{ "YESCRYPT",		PW_CRYPT, "$y$", "$y$", 0 },
#ifdef HAVE_OPENSSL
	{ "SCRAM-SHA-256",	PW_SCRAM, NULL, NULL, 0 },
#endif
};

/* Bare hashes ("$id$...") we accept without a "{SCHEME}" tag. */
static const char pw_bare_prefixes[] = "$y$|$2b$|$2y$|$2a$|$6$|$5$";

/*
 * A valid yescrypt hash at libxcrypt's default cost (of the password
 * "x"), for password_dummy().  Its output is never compared.
 */
static const char pw_dummy_hash[] =
    "$y$j9T$huHzwJ2Xru.tef0u6cB1T.$x7HpNejWCuVZlbrcs16rSbVZniAy7sacqfZImsDvvrA";

/* Large (over 32 KiB): static rather than on the stack. */
static struct crypt_data pw_cd;

static const struct pw_scheme *pw_parse(const char *, const char **, int);
static int	pw_prefix_ok(const char *, const char *);
static int	pw_crypt_verify(const char *, const char *);
static int	pw_plain_verify(const char *, const char *);
static void	pw_wipe(void *, size_t);

static void
pw_wipe(void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
#endif
}

/*
 * Split stored into a scheme and its data (*data_r).  A value without
 * "{...}" must be a bare crypt hash with a known prefix.  Returns NULL
 * for an unknown scheme or malformed value, logging why when log is set.
 */
static const struct pw_scheme *
pw_parse(const char *stored, const char **data_r, int log)
{
	static const struct pw_scheme bare = {
		"(bare crypt)", PW_CRYPT, pw_bare_prefixes, NULL, 0
	};
	const char *end;
	size_t i, len;

	if (stored == NULL || stored[0] == '\0') {
		if (log)
			log_warnx("password: empty stored value");
		return NULL;
	}
	if (stored[0] == '$') {
		*data_r = stored;
		return &bare;
	}
	if (stored[0] != '{' || (end = strchr(stored, '}')) == NULL) {
		if (log)
			log_warnx("password: stored value has no {SCHEME} "
			    "and is not a $id$ crypt hash");
		return NULL;
	}
	len = (size_t)(end - stored - 1);
	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++)
		if (strlen(pw_schemes[i].name) == len &&
		    strncasecmp(pw_schemes[i].name, stored + 1, len) == 0) {
			*data_r = end + 1;
			return &pw_schemes[i];
		}
	if (log) {
		char vis[64];

		log_warnx("password: unknown scheme {%s}",
		    log_vis(vis, sizeof(vis), stored + 1, len));
	}
	return NULL;
}

/* 1 if hash starts with one of the '|'-separated prefixes (NULL: any). */
static int
pw_prefix_ok(const char *hash, const char *prefixes)
{
	const char *p, *bar;
	size_t len;

	if (prefixes == NULL)
		return 1;
	for (p = prefixes; *p != '\0'; p = bar + 1) {
		if ((bar = strchr(p, '|')) == NULL)
			bar = p + strlen(p);
		len = (size_t)(bar - p);
		if (strncmp(hash, p, len) == 0)
			return 1;
		if (*bar == '\0')
			break;
	}
	return 0;
}

/*
 * Hash password with the setting taken from hash and compare the result
 * with hash in constant time.  A result of another length is a mismatch,
 * but the comparison runs anyway so that the time does not depend on it.
 */
static int
pw_crypt_verify(const char *hash, const char *password)
{
	const char *out;
	size_t outlen, hashlen;
	int diff, ret;

	hashlen = strlen(hash);
	if (hashlen == 0 || hashlen >= CRYPT_OUTPUT_SIZE) {
		log_warnx("password: malformed crypt hash");
		return -1;
	}
	/*
	 * A "$id$" hash is "$id$[params$]salt$digest": at least three '$'
	 * and a digest after the last.  Catch a bare setting ("$6$",
	 * "$6$salt$") here, which crypt_r() would accept as a setting.
	 */
	if (hash[0] == '$') {
		const char *p, *last = NULL;
		int ndollar = 0;

		for (p = hash; *p != '\0'; p++)
			if (*p == '$') {
				ndollar++;
				last = p;
			}
		if (ndollar < 3 || last[1] == '\0') {
			log_warnx("password: malformed crypt hash");
			return -1;
		}
	}
	out = crypt_r(password, hash, &pw_cd);
	if (out == NULL || out[0] == '*') {
		/* libxcrypt fails with NULL or a "*0"/"*1" failure token. */
		log_warnx("password: crypt rejected the stored hash (%s)",
		    out == NULL ? strerror(errno) : "invalid setting");
		pw_wipe(&pw_cd, sizeof(pw_cd));
		return -1;
	}
	outlen = strlen(out);
	if (outlen == hashlen)
		diff = timingsafe_bcmp(out, hash, outlen);
	else {
		(void)timingsafe_bcmp(out, out, outlen);
		diff = 1;
	}
	ret = diff == 0 ? 1 : 0;
	pw_wipe(&pw_cd, sizeof(pw_cd));
	return ret;
}

/*
 * Compare a plaintext secret with password without leaking where they
 * differ or how long the secret is: compare the MD5 digests of both
 * (fixed size, constant time), and the lengths without branching on
 * them.
 */
static int
pw_plain_verify(const char *secret, const char *password)
{
	struct md5_ctx ctx;
	unsigned char d1[16], d2[16];
	size_t slen, plen;
	int diff;

	slen = strlen(secret);
	plen = strlen(password);
	md5_init(&ctx);
	md5_update(&ctx, secret, slen);
	md5_final(&ctx, d1);
	md5_init(&ctx);
	md5_update(&ctx, password, plen);
	md5_final(&ctx, d2);
	diff = timingsafe_bcmp(d1, d2, sizeof(d1));
	diff |= (slen != plen);
	pw_wipe(d1, sizeof(d1));
	pw_wipe(d2, sizeof(d2));
	return diff == 0 ? 1 : 0;
}

int
password_verify(const char *stored, const char *password)
{
	const struct pw_scheme *s;
	const char *data = NULL;

	if (password == NULL)
		return -1;
	if ((s = pw_parse(stored, &data, 1)) == NULL)
		return -1;
	if (s->kind == PW_PLAIN) {
		/*
		 * An empty plaintext secret would let anyone who sends an
		 * empty password in; treat it as a broken entry.
		 */
		if (data[0] == '\0') {
			log_warnx("password: empty {%s} secret", s->name);
			return -1;
		}
		return pw_plain_verify(data, password);
	}
#ifdef HAVE_OPENSSL
	if (s->kind == PW_SCRAM) {
		int r = scram_verify_plain(data, password);

		if (r == -1)
			log_warnx("password: malformed {SCRAM-SHA-256} value");
		return r;
	}
#endif
	if (!pw_prefix_ok(data, s->prefixes)) {
		if (data == stored)
			log_warnx("password: unsupported $id$ crypt hash");
		else
			log_warnx("password: {%s} value is not a hash of "
			    "that scheme", s->name);
		return -1;
	}
	return pw_crypt_verify(data, password);
}

void
password_dummy(const char *password)
{
	(void)crypt_r(password == NULL ? "" : password, pw_dummy_hash,
	    &pw_cd);
	pw_wipe(&pw_cd, sizeof(pw_cd));
}

int
password_plain(const char *stored, char *buf, size_t bufsz)
{
	const struct pw_scheme *s;
	const char *data = NULL;
	size_t len;

	if ((s = pw_parse(stored, &data, 0)) == NULL || s->kind != PW_PLAIN)
		return 0;
	len = strlen(data);
	if (len == 0)
		return 0;
	if (bufsz == 0 || len >= bufsz)
		return -1;
	memcpy(buf, data, len + 1);
	return 1;
}

int
password_credential(const char *stored, char *buf, size_t bufsz)
{
	const struct pw_scheme *s;
	const char *data = NULL;
	int n;

	if ((s = pw_parse(stored, &data, 0)) == NULL ||
	    (s->kind != PW_PLAIN && s->kind != PW_SCRAM) || data[0] == '\0')
		return 0;
	n = snprintf(buf, bufsz, "{%s}%s", s->kind == PW_PLAIN ? "PLAIN" :
	    s->name, data);
	if (n < 0 || (size_t)n >= bufsz) {
		pw_wipe(buf, bufsz);
		return -1;
	}
	return 1;
}

int
password_hash(const char *scheme, const char *password, char *buf,
    size_t bufsz)
{
	const struct pw_scheme *s = NULL;
	char rnd[32], setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *out;
	size_t i;
	int n, ret = -1;

	if (scheme == NULL || password == NULL || bufsz == 0)
		return -1;
	for (i = 0; i < sizeof(pw_schemes) / sizeof(pw_schemes[0]); i++)
		if (strcasecmp(pw_schemes[i].name, scheme) == 0) {
			s = &pw_schemes[i];
			break;
		}
	if (s == NULL) {
		log_warnx("password: cannot hash with unknown scheme");
		return -1;
	}
	if (s->kind == PW_PLAIN) {
		n = snprintf(buf, bufsz, "{%s}%s", s->name, password);
		if (n < 0 || (size_t)n >= bufsz) {
			pw_wipe(buf, bufsz);
			return -1;
		}
		return 0;
	}
#ifdef HAVE_OPENSSL
	if (s->kind == PW_SCRAM)
		return scram_make_stored(password, buf, bufsz);
#endif
	if (s->gensalt == NULL) {
		log_warnx("password: {%s} is accepted but not generated",
		    s->name);
		return -1;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		log_warn("password: getrandom");
		return -1;
	}
	if (crypt_gensalt_rn(s->gensalt, s->rounds, rnd, (int)sizeof(rnd),
	    setting, (int)sizeof(setting)) == NULL) {
		log_warn("password: crypt_gensalt_rn %s", s->name);
		goto done;
	}
	out = crypt_r(password, setting, &pw_cd);
	if (out == NULL || out[0] == '*') {
		log_warnx("password: crypt failed for %s", s->name);
		goto done;
	}
	n = snprintf(buf, bufsz, "{%s}%s", s->name, out);
	if (n < 0 || (size_t)n >= bufsz) {
		pw_wipe(buf, bufsz);
		goto done;
	}
	ret = 0;
 done:
	pw_wipe(rnd, sizeof(rnd));
	pw_wipe(&pw_cd, sizeof(pw_cd));
	return ret;
}
