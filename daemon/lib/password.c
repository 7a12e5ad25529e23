/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * password.c -- the password schemes every auth module shares: the
 * scheme table, parsing a stored "{SCHEME[.b64|.hex]}data" value,
 * verification, the dummy work for unknown users, the credentials the
 * challenge-response mechanisms need, and making new hashes.
 * crypt(3) hashes go through libxcrypt's crypt_r() ("{CRYPT}",
 * "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}", "{YESCRYPT}",
 * "{MD5-CRYPT}" or a bare "$id$..." hash); Dovecot's digest, PBKDF2 and
 * Argon2 forms are in password_digest.c; "{SCRAM-SHA-256}" in scram.c.
 * Pure code with one piece of state (the dummy's model, below).  Runs
 * in the auth pool (root) and in satchel-passwd.  Not thread-safe: one
 * static struct crypt_data serves the process, wiped after every use.
 *
 * Caution: nothing here may log a password or a stored value.  Messages
 * name the scheme at most.
 */
#include <sys/random.h>

#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "compat/compat.h"
#include "log.h"
#include "md5.h"
#include "password.h"
#include "password_int.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "compat/poison.h"

/* Scheme classes: how the data after "{SCHEME}" is checked. */
enum pw_kind {
	PW_PLAIN,	/* the secret itself */
	PW_CRYPT,	/* any hash crypt_r() accepts */
	PW_SCRAM,	/* SCRAM-SHA-256 stored keys */
	PW_DIGEST,	/* {SHA}, {SSHA}, ... {PLAIN-MD5}: digest [+ salt] */
	PW_CRAM,	/* {CRAM-MD5}: the HMAC-MD5 key state */
	PW_PBKDF2,	/* Dovecot's $1$salt$rounds$hex */
	PW_ARGON2,	/* $argon2i$ / $argon2id$ */
};

struct pw_scheme {
	const char	*name;
	enum pw_kind	 kind;
	const char	*prefixes;	/* '|'-separated, NULL: any hash */
	const char	*gensalt;	/* prefix for crypt_gensalt_rn */
	unsigned long	 rounds;	/* 0: libxcrypt's default cost */
	enum pw_alg	 alg;		/* PW_DIGEST */
	int		 salted;	/* PW_DIGEST */
	enum pw_enc	 enc;		/* default encoding of the data */
};

static const struct pw_scheme pw_schemes[] = {
	{ "PLAIN",	PW_PLAIN, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
	{ "CLEAR",	PW_PLAIN, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
	{ "CLEARTEXT",	PW_PLAIN, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
	{ "CRYPT",	PW_CRYPT, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
	{ "SHA512-CRYPT", PW_CRYPT, "$6$", "$6$", 0, 0, 0, PW_ENC_NONE },
	{ "SHA256-CRYPT", PW_CRYPT, "$5$", "$5$", 0, 0, 0, PW_ENC_NONE },
	{ "BLF-CRYPT",	PW_CRYPT, "$2b$|$2y$|$2a$", "$2b$", 10, 0, 0,
	    PW_ENC_NONE },
	{ "YESCRYPT",	PW_CRYPT, "$y$", "$y$", 0, 0, 0, PW_ENC_NONE },
	{ "MD5-CRYPT",	PW_CRYPT, "$1$", NULL, 0, 0, 0, PW_ENC_NONE },
	{ "MD5",	PW_CRYPT, "$1$", NULL, 0, 0, 0, PW_ENC_NONE },
	{ "SHA",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA1, 0, PW_ENC_B64 },
	{ "SHA1",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA1, 0, PW_ENC_B64 },
	{ "SSHA",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA1, 1, PW_ENC_B64 },
	{ "SHA256",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA256, 0, PW_ENC_B64 },
	{ "SSHA256",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA256, 1, PW_ENC_B64 },
	{ "SHA512",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA512, 0, PW_ENC_B64 },
	{ "SSHA512",	PW_DIGEST, NULL, NULL, 0, PW_ALG_SHA512, 1, PW_ENC_B64 },
	{ "SMD5",	PW_DIGEST, NULL, NULL, 0, PW_ALG_MD5, 1, PW_ENC_B64 },
	{ "PLAIN-MD5",	PW_DIGEST, NULL, NULL, 0, PW_ALG_MD5, 0, PW_ENC_HEX },
	{ "LDAP-MD5",	PW_DIGEST, NULL, NULL, 0, PW_ALG_MD5, 0, PW_ENC_B64 },
	{ "CRAM-MD5",	PW_CRAM, NULL, NULL, 0, 0, 0, PW_ENC_HEX },
	{ "HMAC-MD5",	PW_CRAM, NULL, NULL, 0, 0, 0, PW_ENC_HEX },
	{ "PBKDF2",	PW_PBKDF2, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
	{ "ARGON2I",	PW_ARGON2, "$argon2i$", NULL, 0, 0, 0, PW_ENC_NONE },
	{ "ARGON2ID",	PW_ARGON2, "$argon2id$", NULL, 0, 0, 0, PW_ENC_NONE },
	{ "SCRAM-SHA-256", PW_SCRAM, NULL, NULL, 0, 0, 0, PW_ENC_NONE },
};
#define PW_NSCHEMES	(sizeof(pw_schemes) / sizeof(pw_schemes[0]))

/* Bare hashes ("$id$...") we accept without a "{SCHEME}" tag. */
static const char pw_bare_prefixes[] = "$y$|$2b$|$2y$|$2a$|$6$|$5$|$1$";

/* What to tell the admin about a value we cannot use. */
#define PW_ADVICE	"rehash it with a supported scheme (satchel-passwd, " \
	"or doveadm pw -s SHA512-CRYPT); see satchel.conf(5)"

/*
 * A valid yescrypt hash at libxcrypt's default cost (of the password
 * "x"), for password_dummy() until it has seen a real stored value.
 */
static const char pw_dummy_hash[] =
    "$y$j9T$huHzwJ2Xru.tef0u6cB1T.$x7HpNejWCuVZlbrcs16rSbVZniAy7sacqfZImsDvvrA";

/*
 * The dummy's model: a value of the costliest scheme and parameters
 * this process has verified or been told of (password_dummy_learn),
 * with its digest replaced, so it holds no user's hash; and what one
 * verification of it costs.
 */
static struct {
	const struct pw_scheme	*s;
	char			 data[PW_RAW_MAX];
	uint64_t		 ns;
} pw_model;

/* Large (over 32 KiB): static rather than on the stack. */
static struct crypt_data pw_cd;

struct pw_parsed {
	const struct pw_scheme	*s;
	const char		*data;
	enum pw_enc		 enc;
};

static int	pw_parse(const char *, struct pw_parsed *, int);
static int	pw_prefix_ok(const char *, const char *);
static int	pw_crypt_cost_ok(const char *);
static int	pw_crypt_verify(const char *, const char *, int);
static int	pw_plain_verify(const unsigned char *, size_t, const char *);
static int	pw_check(const struct pw_parsed *, const char *, int);
static uint64_t	pw_now(void);
static int	pw_template(const struct pw_parsed *, char *, size_t);
static void	pw_learn(const struct pw_parsed *, uint64_t);

/*
 * A crypt cost over our ceiling (bcrypt's log2 cost, SHA-crypt rounds)
 * would stall the auth process on one login: 1 when within.
 */
static int
pw_crypt_cost_ok(const char *hash)
{
	const char *p;
	unsigned long v = 0;

	if (hash[0] == '$' && hash[1] == '2' && hash[2] != '\0' &&
	    hash[3] == '$') {
		p = hash + 4;
		if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
			return 1;	/* malformed: crypt_r refuses it */
		return (unsigned long)((p[0] - '0') * 10 + (p[1] - '0')) <=
		    PW_BCRYPT_COST_MAX;
	}
	if ((strncmp(hash, "$5$rounds=", 10) == 0 ||
	    strncmp(hash, "$6$rounds=", 10) == 0)) {
		for (p = hash + 10; *p >= '0' && *p <= '9' && v <= 999999999UL;
		    p++)
			v = v * 10 + (unsigned long)(*p - '0');
		return v <= PW_SHACRYPT_ROUNDS_MAX;
	}
	return 1;
}

static uint64_t
pw_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Split stored into a scheme, its encoding and its data.  A value
 * without "{...}" must be a bare crypt or Argon2 hash.  Returns 0, or
 * -1 for an unknown scheme or malformed value, logging why (the scheme
 * and what to do) when log is set.
 */
static int
pw_parse(const char *stored, struct pw_parsed *p, int log)
{
	static const struct pw_scheme bare = {
		"(bare crypt)", PW_CRYPT, pw_bare_prefixes, NULL, 0, 0, 0,
		PW_ENC_NONE
	};
	const char *end, *dot;
	char vis[64];
	size_t i, len;

	memset(p, 0, sizeof(*p));
	if (stored == NULL || stored[0] == '\0') {
		if (log)
			log_warnx("password: empty stored value");
		return -1;
	}
	if (stored[0] == '$') {
		p->data = stored;
		p->s = &bare;
		for (i = 0; i < PW_NSCHEMES; i++)
			if (pw_schemes[i].kind == PW_ARGON2 &&
			    strncmp(stored, pw_schemes[i].prefixes,
			    strlen(pw_schemes[i].prefixes)) == 0)
				p->s = &pw_schemes[i];
		return 0;
	}
	if (stored[0] != '{' || (end = strchr(stored, '}')) == NULL) {
		if (log)
			log_warnx("password: stored value has no {SCHEME} "
			    "and is not a $id$ crypt hash; %s", PW_ADVICE);
		return -1;
	}
	len = (size_t)(end - stored - 1);
	p->enc = PW_ENC_NONE;
	if ((dot = memchr(stored + 1, '.', len)) != NULL) {
		size_t slen = (size_t)(end - dot - 1);

		if ((slen == 3 && strncasecmp(dot + 1, "B64", 3) == 0) ||
		    (slen == 6 && strncasecmp(dot + 1, "BASE64", 6) == 0))
			p->enc = PW_ENC_B64;
		else if (slen == 3 && strncasecmp(dot + 1, "HEX", 3) == 0)
			p->enc = PW_ENC_HEX;
		else {
			if (log)
				log_warnx("password: {%s}: unknown encoding "
				    "suffix (known: .b64, .hex)",
				    log_vis(vis, sizeof(vis), stored + 1, len));
			return -1;
		}
		len = (size_t)(dot - stored - 1);
	}
	for (i = 0; i < PW_NSCHEMES; i++)
		if (strlen(pw_schemes[i].name) == len &&
		    strncasecmp(pw_schemes[i].name, stored + 1, len) == 0) {
			p->s = &pw_schemes[i];
			p->data = end + 1;
			break;
		}
	if (p->s == NULL) {
		if (log)
			log_warnx("password: unknown scheme {%s}: not "
			    "supported; %s", log_vis(vis, sizeof(vis),
			    stored + 1, len), PW_ADVICE);
		return -1;
	}
	if (dot != NULL && p->s->kind != PW_PLAIN &&
	    p->s->kind != PW_DIGEST && p->s->kind != PW_CRAM) {
		if (log)
			log_warnx("password: {%s} takes no .b64/.hex suffix",
			    p->s->name);
		return -1;
	}
	if (dot == NULL)
		p->enc = p->s->enc;
	return 0;
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
 * With dummy, hash is a bare setting and nothing is compared.
 */
static int
pw_crypt_verify(const char *hash, const char *password, int dummy)
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
	if (hash[0] == '$' && !dummy) {
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
	if (!pw_crypt_cost_ok(hash)) {
		log_warnx("password: crypt hash cost above bcrypt %u or "
		    "SHA-crypt rounds=%lu; %s", PW_BCRYPT_COST_MAX,
		    (unsigned long)PW_SHACRYPT_ROUNDS_MAX, PW_ADVICE);
		return -1;
	}
	out = crypt_r(password, hash, &pw_cd);
	if (out == NULL || out[0] == '*') {
		/* libxcrypt fails with NULL or a "*0"/"*1" failure token. */
		if (!dummy)
			log_warnx("password: crypt rejected the stored hash "
			    "(%s); %s", out == NULL ? strerror(errno) :
			    "invalid or disabled setting", PW_ADVICE);
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
	ret = diff == 0 && !dummy ? 1 : 0;
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
pw_plain_verify(const unsigned char *secret, size_t slen,
    const char *password)
{
	struct satchel_md5 ctx;
	unsigned char d1[16], d2[16];
	size_t plen;
	int diff;

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

/*
 * Verify password against a parsed value: 1, 0, or -1 (logged when
 * log).  With dummy the value is a model (pw_template) and the answer
 * is never 1.
 */
static int
pw_check(const struct pw_parsed *p, const char *password, int dummy)
{
	const struct pw_scheme *s = p->s;
	unsigned char raw[PW_RAW_MAX];
	struct hmac_md5_state st;
	const char *why = NULL;
	int n, r = -1;

	switch (s->kind) {
	case PW_PLAIN:
		if ((n = pw_decode(p->data, p->enc, raw, sizeof(raw))) <= 0) {
			/*
			 * An empty plaintext secret would let anyone who
			 * sends an empty password in: a broken entry.
			 */
			why = n == 0 ? "empty secret" : "cannot decode";
			break;
		}
		r = pw_plain_verify(raw, (size_t)n, password);
		break;
	case PW_SCRAM:
#ifdef HAVE_OPENSSL
		if ((r = scram_verify_plain(p->data, password)) == -1)
			why = "malformed value";
#else
		why = "needs a build with OpenSSL";
#endif
		break;
	case PW_DIGEST:
		if ((n = pw_decode(p->data, p->enc, raw, sizeof(raw))) < 0) {
			why = "cannot decode the base64/hex value";
			break;
		}
		r = pw_digest_verify(s->alg, s->salted, raw, (size_t)n,
		    password, &why);
		break;
	case PW_CRAM:
		if (pw_decode(p->data, p->enc, raw, sizeof(raw)) != 32) {
			why = "not 32 octets (64 hex digits)";
			break;
		}
		hmac_md5_state_init(password, strlen(password), &st);
		hmac_md5_state_pack(&st, raw + 32);
		r = timingsafe_bcmp(raw, raw + 32, 32) == 0 ? 1 : 0;
		pw_wipe(&st, sizeof(st));
		break;
	case PW_PBKDF2:
		r = pw_pbkdf2_verify(p->data, password, dummy, &why);
		break;
	case PW_ARGON2:
		if (!pw_prefix_ok(p->data, s->prefixes)) {
			why = "value is not a hash of that scheme";
			break;
		}
		r = pw_argon2_verify(p->data, password, dummy, &why);
		break;
	case PW_CRYPT:
		if (!dummy && !pw_prefix_ok(p->data, s->prefixes)) {
			why = p->s->prefixes == pw_bare_prefixes ?
			    "unsupported $id$ crypt hash" :
			    "value is not a hash of that scheme";
			break;
		}
		r = pw_crypt_verify(p->data, password, dummy);
		break;
	}
	pw_wipe(raw, sizeof(raw));
	if (r == -1 && why != NULL && !dummy)
		log_warnx("password: {%s}: %s; %s", s->name, why, PW_ADVICE);
	return dummy && r == 1 ? 0 : r;
}

/*
 * A model of p for the dummy: the same scheme and costs, its digest
 * replaced.  Only the schemes whose cost is worth matching have one.
 * Returns 0, or -1.
 */
static int
pw_template(const struct pw_parsed *p, char *buf, size_t bufsz)
{
	const char *last;
	size_t len;

	switch (p->s->kind) {
	case PW_CRYPT:
		if (p->data[0] != '$')
			return -1;
		if (strncmp(p->data, "$2", 2) == 0)	/* bcrypt: 7 + salt */
			len = strlen(p->data) >= 29 ? 29 : 0;
		else {
			/* The setting: all but the last '$' and digest. */
			last = strrchr(p->data, '$');
			len = (size_t)(last - p->data);
		}
		break;
	case PW_ARGON2:
	case PW_PBKDF2:
		last = strrchr(p->data, '$');
		len = (size_t)(last - p->data) + 1;
		break;
	case PW_SCRAM:
		/* ITER,SALT,STORED,SERVER: keep ITER and SALT. */
		if ((last = strchr(p->data, ',')) == NULL ||
		    (last = strchr(last + 1, ',')) == NULL)
			return -1;
		len = (size_t)(last - p->data);
		break;
	default:
		return -1;
	}
	if (len == 0 || len + 90 >= bufsz)
		return -1;
	memcpy(buf, p->data, len);
	buf[len] = '\0';
	if (p->s->kind == PW_ARGON2)
		(void)strlcat(buf, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		    bufsz);
	else if (p->s->kind == PW_PBKDF2)
		(void)strlcat(buf, "0000000000000000000000000000000000000000",
		    bufsz);
	else if (p->s->kind == PW_SCRAM)
		(void)strlcat(buf, ",AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", bufsz);
	return 0;
}

/*
 * Take p as the dummy's model if it cost more (ns) than the current
 * one, by a margin so that noise does not flip between equal schemes.
 */
static void
pw_learn(const struct pw_parsed *p, uint64_t ns)
{
	char buf[PW_RAW_MAX];

	if (pw_model.s != NULL && ns <= pw_model.ns + pw_model.ns / 4)
		return;
	if (pw_template(p, buf, sizeof(buf)) == -1)
		return;
	pw_wipe(pw_model.data, sizeof(pw_model.data));
	memcpy(pw_model.data, buf, sizeof(buf));
	pw_model.s = p->s;
	pw_model.ns = ns;
}

int
password_verify(const char *stored, const char *password)
{
	struct pw_parsed p;
	uint64_t t0;
	int r;

	if (password == NULL)
		return -1;
	if (pw_parse(stored, &p, 1) == -1)
		return -1;
	t0 = pw_now();
	r = pw_check(&p, password, 0);
	if (r != -1)
		pw_learn(&p, pw_now() - t0);
	return r;
}

int
password_dummy_learn(const char *stored)
{
	struct pw_parsed p, m;
	char buf[PW_RAW_MAX];
	uint64_t t0;

	if (pw_parse(stored, &p, 0) == -1 ||
	    pw_template(&p, buf, sizeof(buf)) == -1)
		return -1;
	if (pw_model.s == p.s && strcmp(pw_model.data, buf) == 0)
		return 0;
	m.s = p.s;
	m.data = buf;
	m.enc = PW_ENC_NONE;
	t0 = pw_now();
	(void)pw_check(&m, "x", 1);
	pw_learn(&p, pw_now() - t0);
	pw_wipe(buf, sizeof(buf));
	return 0;
}

uint64_t
password_dummy_cost_ns(void)
{
	return pw_model.s != NULL ? pw_model.ns : 0;
}

void
password_dummy(const char *password)
{
	struct pw_parsed m;

	if (password == NULL)
		password = "";
	if (pw_model.s == NULL) {
		(void)crypt_r(password, pw_dummy_hash, &pw_cd);
		pw_wipe(&pw_cd, sizeof(pw_cd));
		return;
	}
	m.s = pw_model.s;
	m.data = pw_model.data;
	m.enc = PW_ENC_NONE;
	(void)pw_check(&m, password, 1);
}

/* The plaintext of a {PLAIN}-class value into buf: 1, 0 not plain, -1. */
static int
pw_plain_get(const struct pw_parsed *p, char *buf, size_t bufsz)
{
	unsigned char raw[PW_RAW_MAX];
	int n;

	if (p->s->kind != PW_PLAIN)
		return 0;
	if ((n = pw_decode(p->data, p->enc, raw, sizeof(raw))) <= 0 ||
	    memchr(raw, '\0', (size_t)n) != NULL)
		return 0;	/* empty or undecodable: not usable */
	if ((size_t)n >= bufsz) {
		pw_wipe(raw, sizeof(raw));
		return -1;
	}
	memcpy(buf, raw, (size_t)n);
	buf[n] = '\0';
	pw_wipe(raw, sizeof(raw));
	return 1;
}

int
password_plain(const char *stored, char *buf, size_t bufsz)
{
	struct pw_parsed p;

	if (bufsz == 0 || pw_parse(stored, &p, 0) == -1)
		return bufsz == 0 ? -1 : 0;
	return pw_plain_get(&p, buf, bufsz);
}

int
password_credential(const char *stored, char *buf, size_t bufsz)
{
	struct pw_parsed p;
	unsigned char raw[32];
	char hex[65];
	int n, r;

	if (pw_parse(stored, &p, 0) == -1)
		return 0;
	if (p.s->kind == PW_PLAIN) {
		if (bufsz < 8)
			return -1;
		memcpy(buf, "{PLAIN}", 7);
		if ((r = pw_plain_get(&p, buf + 7, bufsz - 7)) != 1)
			pw_wipe(buf, bufsz);
		return r;
	}
	if (p.s->kind == PW_CRAM) {
		if (pw_decode(p.data, p.enc, raw, sizeof(raw)) != 32)
			return 0;
		for (n = 0; n < 32; n++)
			(void)snprintf(hex + 2 * n, 3, "%02x", raw[n]);
		n = snprintf(buf, bufsz, "{CRAM-MD5}%s", hex);
		pw_wipe(raw, sizeof(raw));
		pw_wipe(hex, sizeof(hex));
	} else if (p.s->kind == PW_SCRAM && p.data[0] != '\0')
		n = snprintf(buf, bufsz, "{%s}%s", p.s->name, p.data);
	else
		return 0;
	if (n < 0 || (size_t)n >= bufsz) {
		pw_wipe(buf, bufsz);
		return -1;
	}
	return 1;
}

int
password_cram_md5(const char *cred, const void *challenge, size_t len,
    unsigned char digest[16])
{
	struct pw_parsed p;
	struct hmac_md5_state st;
	unsigned char raw[PW_RAW_MAX];
	int n;

	if (pw_parse(cred, &p, 0) == -1)
		return -1;
	if (p.s->kind == PW_PLAIN) {
		if ((n = pw_decode(p.data, p.enc, raw, sizeof(raw))) <= 0)
			return -1;
		hmac_md5_state_init(raw, (size_t)n, &st);
	} else if (p.s->kind == PW_CRAM) {
		if (pw_decode(p.data, p.enc, raw, sizeof(raw)) != 32)
			return -1;
		hmac_md5_state_unpack(raw, &st);
	} else
		return 0;
	hmac_md5_state_final(&st, challenge, len, digest);
	pw_wipe(&st, sizeof(st));
	pw_wipe(raw, sizeof(raw));
	return 1;
}

int
password_cram_md5_verify(const char *cred, const char *challenge,
    const char *answer)
{
	unsigned char digest[16];
	char hex[33], lower[33];
	size_t i;
	int r, ok;

	if (answer == NULL || strlen(answer) != 32)
		return 0;
	if ((r = password_cram_md5(cred, challenge, strlen(challenge),
	    digest)) != 1)
		return r;
	md5_hex(digest, hex);
	for (i = 0; i < 32; i++)
		lower[i] = (char)(answer[i] >= 'A' && answer[i] <= 'F' ?
		    answer[i] - 'A' + 'a' : answer[i]);
	ok = timingsafe_bcmp(hex, lower, 32) == 0;
	pw_wipe(digest, sizeof(digest));
	pw_wipe(hex, sizeof(hex));
	return ok ? 1 : 0;
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
	for (i = 0; i < PW_NSCHEMES; i++)
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
		log_warnx("password: {%s} is accepted but not generated "
		    "(generate it with doveadm pw -s %s)", s->name, s->name);
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
