/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * scram.c -- SCRAM-SHA-256 keys and the server side of the exchange (see
 * scram.h).  Runs in the auth pool, as root, on messages the worker
 * relayed from the client: everything is length-checked and parsed
 * strictly.  Secrets are wiped after use.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "compat/compat.h"
#include "sasl.h"
#include "scram.h"
#include "compat/poison.h"

static unsigned char fake_secret[32];
static int fake_ready;

static int
hmac256(const unsigned char *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[32])
{
	unsigned int len = 32;

	return HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &len) ==
	    NULL ? -1 : 0;
}

int
scram_derive(const char *password, const unsigned char *salt,
    size_t saltlen, unsigned int iter, struct scram_keys *k)
{
	unsigned char salted[32], client[32];

	if (saltlen > sizeof(k->salt) || iter == 0 ||
	    PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
	    (int)saltlen, (int)iter, EVP_sha256(), sizeof(salted),
	    salted) != 1)
		return -1;
	if (hmac256(salted, sizeof(salted), "Client Key", 10, client) == -1 ||
	    hmac256(salted, sizeof(salted), "Server Key", 10, k->server) == -1)
		return -1;
	SHA256(client, sizeof(client), k->stored);
	memcpy(k->salt, salt, saltlen);
	k->saltlen = saltlen;
	k->iter = iter;
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client, sizeof(client));
	return 0;
}

int
scram_parse_stored(const char *data, struct scram_keys *k)
{
	char buf[512], *f[4], *p, *save;
	unsigned long iter;
	int n = 0, len;

	if (strlcpy(buf, data, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (p = strtok_r(buf, ",", &save); p != NULL && n < 4;
	    p = strtok_r(NULL, ",", &save))
		f[n++] = p;
	if (n != 4 || p != NULL)
		return -1;
	for (p = f[0]; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return -1;
	if (strlen(f[0]) > 7 || (iter = strtoul(f[0], NULL, 10)) < 1)
		return -1;
	k->iter = (unsigned int)iter;
	if ((len = sasl_b64_decode(f[1], strlen(f[1]), k->salt,
	    sizeof(k->salt))) <= 0)
		return -1;
	k->saltlen = (size_t)len;
	if (sasl_b64_decode(f[2], strlen(f[2]), k->stored,
	    sizeof(k->stored)) != 32 || sasl_b64_decode(f[3], strlen(f[3]),
	    k->server, sizeof(k->server)) != 32)
		return -1;
	return 0;
}

int
scram_make_stored(const char *password, char *buf, size_t bufsz)
{
	struct scram_keys k;
	unsigned char salt[16];
	char s[32], st[64], sv[64];
	int n;

	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt) ||
	    scram_derive(password, salt, sizeof(salt), SCRAM_ITER_DEFAULT,
	    &k) == -1)
		return -1;
	sasl_b64_encode(k.salt, k.saltlen, s, sizeof(s));
	sasl_b64_encode(k.stored, sizeof(k.stored), st, sizeof(st));
	sasl_b64_encode(k.server, sizeof(k.server), sv, sizeof(sv));
	explicit_bzero(&k, sizeof(k));
	n = snprintf(buf, bufsz, "{SCRAM-SHA-256}%u,%s,%s,%s",
	    SCRAM_ITER_DEFAULT, s, st, sv);
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

int
scram_format_keys(const struct scram_keys *k, char *buf, size_t bufsz)
{
	char s[96], st[64], sv[64];
	int n;

	if (sasl_b64_encode(k->salt, k->saltlen, s, sizeof(s)) < 0 ||
	    sasl_b64_encode(k->stored, sizeof(k->stored), st, sizeof(st)) <
	    0 || sasl_b64_encode(k->server, sizeof(k->server), sv,
	    sizeof(sv)) < 0)
		return -1;
	n = snprintf(buf, bufsz, "{SCRAM-SHA-256}%u,%s,%s,%s", k->iter, s, st,
	    sv);
	explicit_bzero(st, sizeof(st));
	explicit_bzero(sv, sizeof(sv));
	return n < 0 || (size_t)n >= bufsz ? -1 : 0;
}

int
scram_verify_plain(const char *data, const char *password)
{
	struct scram_keys k, t;
	int r;

	if (scram_parse_stored(data, &k) == -1)
		return -1;
	if (scram_derive(password, k.salt, k.saltlen, k.iter, &t) == -1)
		return -1;
	r = timingsafe_bcmp(k.stored, t.stored, sizeof(k.stored)) == 0;
	explicit_bzero(&t, sizeof(t));
	return r;
}

/* Decode a saslname: "=2C" is ',' and "=3D" is '='; nothing else. */
static int
saslname(const char *p, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (o + 1 >= outsz)
			return -1;
		if (p[i] == ',')
			return -1;
		if (p[i] == '=') {
			if (len - i < 3)
				return -1;
			if (p[i + 1] == '2' && p[i + 2] == 'C')
				out[o++] = ',';
			else if (p[i + 1] == '3' && p[i + 2] == 'D')
				out[o++] = '=';
			else
				return -1;
			i += 2;
			continue;
		}
		out[o++] = p[i];
	}
	out[o] = '\0';
	return o == 0 ? -1 : 0;
}

static int
printable_nonce(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return -1;
	return 0;
}

int
scram_client_first(struct scram_server *st, const char *msg, size_t len)
{
	const char *p, *end = msg + len, *bare, *c1, *c2, *attr;
	char authzid[256];
	size_t n;

	memset(st, 0, sizeof(*st));
	if (len == 0 || len >= SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return -1;
	/* gs2-header: ("n" | "y") "," [ "a=" saslname ] "," */
	if ((msg[0] != 'n' && msg[0] != 'y') || len < 3 || msg[1] != ',')
		return -1;	/* "p=": channel binding is not offered */
	if ((c2 = memchr(msg + 2, ',', len - 2)) == NULL)
		return -1;
	authzid[0] = '\0';
	if (c2 > msg + 2) {
		if (c2 - msg - 2 < 3 || msg[2] != 'a' || msg[3] != '=' ||
		    saslname(msg + 4, (size_t)(c2 - msg - 4), authzid,
		    sizeof(authzid)) == -1)
			return -1;
	}
	n = (size_t)(c2 - msg + 1);
	if (n >= sizeof(st->gs2))
		return -1;
	memcpy(st->gs2, msg, n);
	st->gs2[n] = '\0';
	bare = c2 + 1;
	/* client-first-message-bare: [reserved-mext ","] "n=" user ",r=" */
	if (end - bare < 5 || bare[0] != 'n' || bare[1] != '=')
		return -1;
	if ((c1 = memchr(bare + 2, ',', (size_t)(end - bare - 2))) == NULL ||
	    saslname(bare + 2, (size_t)(c1 - bare - 2), st->user,
	    sizeof(st->user)) == -1)
		return -1;
	if (authzid[0] != '\0' && strcmp(authzid, st->user) != 0)
		return -1;	/* no proxy logins */
	attr = c1 + 1;
	if (end - attr < 3 || attr[0] != 'r' || attr[1] != '=')
		return -1;
	p = memchr(attr, ',', (size_t)(end - attr));
	n = (size_t)((p == NULL ? end : p) - attr - 2);
	if (printable_nonce(attr + 2, n) == -1 || n >= 128)
		return -1;
	memcpy(st->nonce, attr + 2, n);
	st->nonce[n] = '\0';
	n = (size_t)(end - bare);
	memcpy(st->client_first_bare, bare, n);
	st->client_first_bare[n] = '\0';
	return 0;
}

void
scram_init(void)
{
	if (fake_ready)
		return;
	if (getrandom(fake_secret, sizeof(fake_secret), 0) !=
	    (ssize_t)sizeof(fake_secret))
		memset(fake_secret, 0x5a, sizeof(fake_secret));
	fake_ready = 1;
}

void
scram_salt_for(const char *user, unsigned char salt[16])
{
	unsigned char h[32];

	scram_init();
	(void)hmac256(fake_secret, sizeof(fake_secret), user, strlen(user), h);
	memcpy(salt, h, 16);
}

void
scram_fake_keys(struct scram_server *st)
{
	scram_salt_for(st->user, st->keys.salt);
	st->keys.saltlen = 16;
	st->keys.iter = SCRAM_ITER_DEFAULT;
	/* Keys no proof can match. */
	if (getrandom(st->keys.stored, sizeof(st->keys.stored), 0) < 0 ||
	    getrandom(st->keys.server, sizeof(st->keys.server), 0) < 0)
		memset(st->keys.stored, 0, sizeof(st->keys.stored));
}

int
scram_server_first(struct scram_server *st, char *out, size_t outsz)
{
	unsigned char rnd[18];
	char snonce[32], salt[96];
	size_t n;
	int w;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	sasl_b64_encode(rnd, sizeof(rnd), snonce, sizeof(snonce));
	n = strlen(st->nonce);
	if (n + strlen(snonce) >= sizeof(st->nonce))
		return -1;
	memcpy(st->nonce + n, snonce, strlen(snonce) + 1);
	sasl_b64_encode(st->keys.salt, st->keys.saltlen, salt, sizeof(salt));
	w = snprintf(st->server_first, sizeof(st->server_first),
	    "r=%s,s=%s,i=%u", st->nonce, salt, st->keys.iter);
	if (w < 0 || (size_t)w >= sizeof(st->server_first) ||
	    strlcpy(out, st->server_first, outsz) >= outsz)
		return -1;
	return 0;
}

int
scram_client_final(struct scram_server *st, const char *msg, size_t len,
    char *out, size_t outsz)
{
	char cbind[128], authmsg[3 * SCRAM_MSG_MAX + 8];
	unsigned char proof[64], sig[32], client[32], h[32], ssig[32];
	const char *p, *end = msg + len, *pattr;
	size_t i, n, wlen;
	int plen, w, ok;

	if (len == 0 || len >= SCRAM_MSG_MAX || memchr(msg, '\0', len))
		return -1;
	/* "c=" base64(gs2-header) ",r=" nonce [",extensions"] ",p=" proof */
	if (sasl_b64_encode(st->gs2, strlen(st->gs2), cbind,
	    sizeof(cbind)) < 0)
		return -1;
	n = strlen(cbind);
	if (len < n + 3 || memcmp(msg, "c=", 2) != 0 ||
	    memcmp(msg + 2, cbind, n) != 0 || msg[2 + n] != ',')
		return -1;
	p = msg + 3 + n;
	wlen = strlen(st->nonce);
	if ((size_t)(end - p) < wlen + 3 || p[0] != 'r' || p[1] != '=' ||
	    memcmp(p + 2, st->nonce, wlen) != 0 || p[2 + wlen] != ',')
		return -1;
	/* The proof is the last attribute. */
	pattr = NULL;
	for (p = msg; p + 3 <= end; p++)
		if (p[0] == ',' && p[1] == 'p' && p[2] == '=')
			pattr = p;
	if (pattr == NULL || memchr(pattr + 3, ',', (size_t)(end - pattr - 3)))
		return -1;
	plen = sasl_b64_decode(pattr + 3, (size_t)(end - pattr - 3), proof,
	    sizeof(proof));
	if (plen != 32)
		return -1;
	w = snprintf(authmsg, sizeof(authmsg), "%s,%s,%.*s",
	    st->client_first_bare, st->server_first, (int)(pattr - msg), msg);
	if (w < 0 || (size_t)w >= sizeof(authmsg))
		return -1;
	if (hmac256(st->keys.stored, 32, authmsg, (size_t)w, sig) == -1)
		return -1;
	for (i = 0; i < 32; i++)
		client[i] = proof[i] ^ sig[i];
	SHA256(client, sizeof(client), h);
	ok = timingsafe_bcmp(h, st->keys.stored, 32) == 0;
	explicit_bzero(client, sizeof(client));
	if (!ok)
		return 0;
	if (hmac256(st->keys.server, 32, authmsg, (size_t)w, ssig) == -1 ||
	    outsz < 3)
		return -1;
	memcpy(out, "v=", 2);
	if (sasl_b64_encode(ssig, sizeof(ssig), out + 2, outsz - 2) < 0)
		return -1;
	return 1;
}
