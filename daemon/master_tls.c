/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_tls.c -- the master's part of TLS (see tls.h): the SSL_CTXs,
 * the certificate chains, SNI, reload and the session ticket keys.
 * Runs in the master, as root, before it forks anything.  It starts
 * the key process (master_key.c), which reads the private keys; the
 * master never opens a key file.  Each SSL_CTX gets a proxy key made
 * here from the public key the key process sent: it holds only public
 * numbers, and its RSA_METHOD / EC_KEY_METHOD send every private
 * operation to the key process (the worker's side is tls_proxy.c).
 * Workers inherit the contexts at fork; the transport that runs in
 * them is tls.c.
 *
 * Caution: ticket keys are plain static memory (tls_tkeys, read by the
 * worker's ticket callback in tls.c).  A worker gets the keys that
 * existed when it was forked; since a worker serves one session by
 * default, that is always the current key and the one before it, so a
 * ticket issued by any worker resumes on any other.
 *
 * RSA_METHOD and EC_KEY_METHOD are deprecated in OpenSSL 3.0 (see
 * tls_proxy.c); only this file and tls_proxy.c use them.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>

#include "compat/compat.h"
#include "conf.h"
#include "key.h"
#include "log.h"
#include "master.h"
#include "tls.h"
#include "tls_error.h"
#include "tls_int.h"
#include "tls_proxy.h"
#include "compat/poison.h"

/* [0] encrypts new tickets; [1] still decrypts the previous ones. */
struct tls_ticket_key tls_tkeys[2];
static unsigned int ticket_rotate;

/* The proxy keys' methods, made once; their callbacks are tls_proxy.c's. */
static RSA_METHOD *proxy_rsa_meth;
static EC_KEY_METHOD *proxy_ec_meth;
int tls_proxy_rsa_idx = -1, tls_proxy_ec_idx = -1;

static int ticket_new(struct tls_ticket_key *);
static int proxy_init(void);
static EVP_PKEY *proxy_key(EVP_PKEY *, const struct tls_keyref *);

static int
ticket_new(struct tls_ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return -1;
	k->made = time(NULL);
	k->valid = 1;
	return 0;
}

static int
proxy_init(void)
{
	int (*setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	if (proxy_rsa_meth != NULL)
		return 0;
	if ((tls_proxy_rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL)) < 0 || (tls_proxy_ec_idx = EC_KEY_get_ex_new_index(0, NULL,
	    NULL, NULL, NULL)) < 0)
		return -1;
	if ((proxy_rsa_meth = RSA_meth_dup(RSA_get_default_method())) ==
	    NULL || RSA_meth_set1_name(proxy_rsa_meth, "satchel key process")
	    != 1 || RSA_meth_set_priv_enc(proxy_rsa_meth,
	    tls_proxy_rsa_priv_enc) != 1 || RSA_meth_set_priv_dec(
	    proxy_rsa_meth, tls_proxy_rsa_priv_dec) != 1)
		return -1;
	if ((proxy_ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method())) ==
	    NULL)
		return -1;
	EC_KEY_METHOD_get_sign(EC_KEY_get_default_method(), NULL, &setup,
	    NULL);
	EC_KEY_METHOD_set_sign(proxy_ec_meth, tls_proxy_ec_sign, setup,
	    tls_proxy_ec_sign_sig);
	return 0;
}

/*
 * A new EVP_PKEY holding pub's public key (RSA or EC) whose private
 * operations go to ref's key process.  ref must outlive it.  NULL on
 * error.
 */
static EVP_PKEY *
proxy_key(EVP_PKEY *pub, const struct tls_keyref *ref)
{
	const RSA *rpub;
	const EC_KEY *epub;
	const BIGNUM *n, *e;
	RSA *rsa = NULL;
	EC_KEY *ec = NULL;
	EVP_PKEY *pk;
	BIGNUM *n2 = NULL, *e2 = NULL;

	if (proxy_init() == -1 || (pk = EVP_PKEY_new()) == NULL)
		return NULL;
	if ((rpub = EVP_PKEY_get0_RSA(pub)) != NULL) {
		RSA_get0_key(rpub, &n, &e, NULL);
		if ((rsa = RSA_new()) == NULL ||
		    RSA_set_method(rsa, proxy_rsa_meth) != 1 ||
		    (n2 = BN_dup(n)) == NULL || (e2 = BN_dup(e)) == NULL ||
		    RSA_set0_key(rsa, n2, e2, NULL) != 1)
			goto fail;
		n2 = e2 = NULL;
		if (RSA_set_ex_data(rsa, tls_proxy_rsa_idx,
		    (void *)(uintptr_t)ref) != 1 ||
		    EVP_PKEY_assign_RSA(pk, rsa) != 1)
			goto fail;
		return pk;
	}
	if ((epub = EVP_PKEY_get0_EC_KEY(pub)) != NULL) {
		if ((ec = EC_KEY_new()) == NULL ||
		    EC_KEY_set_method(ec, proxy_ec_meth) != 1 ||
		    EC_KEY_set_group(ec, EC_KEY_get0_group(epub)) != 1 ||
		    EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(epub)) !=
		    1 || EC_KEY_set_ex_data(ec, tls_proxy_ec_idx,
		    (void *)(uintptr_t)ref) != 1 ||
		    EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
			goto fail;
		return pk;
	}
fail:
	BN_free(n2);
	BN_free(e2);
	RSA_free(rsa);
	EC_KEY_free(ec);
	EVP_PKEY_free(pk);
	return NULL;
}

/*
 * The SSL_CTX for certificate chain cert and key number i of t's key
 * process (0: tls_key, then the tls_sni keys).
 */
static SSL_CTX *
tls_ctx_new(struct config *cf, struct tls_state *t, size_t i,
    const char *cert, const char *key)
{
	const char *what = i == 0 ? "tls_cert" : "tls_sni";
	int line = key_conf_line(cf, what, i == 0 ? 0 : i - 1);
	EVP_PKEY *certkey;
	SSL_CTX *ctx;
	char ciphers[1024];
	int n;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		log_warnx("TLS: %s", tls_error());
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, cf->tls_min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1)
		goto fail_ssl;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
#ifdef SSL_OP_ENABLE_KTLS
	/*
	 * Kernel TLS where the kernel has it (the tls module; see
	 * /proc/sys/net/ipv4/tcp_available_ulp): after the handshake the
	 * records are encrypted in the kernel, and RETR's zero-copy path
	 * sends message files with SSL_sendfile().  Without it OpenSSL
	 * keeps the records in user space, as before (tls_accept).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#endif
	/*
	 * The output buffer moves and is written in parts; idle sessions
	 * give their read and write buffers back.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/*
	 * Never static RSA key exchange: it has no forward secrecy, and
	 * OpenSSL 3 cannot hand its TLS padding check to a key method, so
	 * the key process would have to be a decryption oracle for it.
	 */
	n = snprintf(ciphers, sizeof(ciphers), "%s:!kRSA",
	    cf->tls_ciphers[0] != '\0' ? cf->tls_ciphers : "DEFAULT");
	if (n < 0 || (size_t)n >= sizeof(ciphers) ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		log_warnx("%s: key 'tls_ciphers': %s", cf->path, tls_error());
		goto fail;
	}
	if (cf->tls_ciphersuites[0] != '\0' &&
	    SSL_CTX_set_ciphersuites(ctx, cf->tls_ciphersuites) != 1) {
		log_warnx("%s: key 'tls_ciphersuites': %s", cf->path,
		    tls_error());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		log_warnx("%s:%d: key '%s': %s: %s", cf->path, line, what,
		    cert, tls_file_error("certificate"));
		goto fail;
	}
	/*
	 * The key process sent the public half of the key; the certificate
	 * must hold the same public key.
	 */
	if ((certkey = X509_get0_pubkey(SSL_CTX_get0_certificate(ctx))) ==
	    NULL || EVP_PKEY_eq(certkey, t->kp.pub[i]) != 1) {
		line = key_conf_line(cf, i == 0 ? "tls_key" : "tls_sni",
		    i == 0 ? 0 : i - 1);
		log_warnx("%s:%d: key '%s': %s does not match %s", cf->path,
		    line, i == 0 ? "tls_key" : "tls_sni", key, cert);
		ERR_clear_error();
		goto fail;
	}
	t->ref[i].kp = &t->kp;
	t->ref[i].index = (uint32_t)i;
	if ((t->proxy[i] = proxy_key(t->kp.pub[i], &t->ref[i])) == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, t->proxy[i]) != 1) {
		log_warnx("%s:%d: key '%s': %s: %s", cf->path, line, what, key,
		    tls_error());
		goto fail;
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"satchel",
	    7);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (cf->tls_ticket_rotate == 0)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	else {
		SSL_CTX_set_timeout(ctx, (long)cf->tls_ticket_rotate * 2);
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx,
		    tls_ticket_cb);
	}
	return ctx;
fail_ssl:
	log_warnx("TLS: %s", tls_error());
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* retire: let the key process finish old handshakes (a reload). */
static void
tls_state_free(struct tls_state *t, int retire)
{
	size_t i;

	if (t == NULL)
		return;
	SSL_CTX_free(t->def);
	for (i = 0; i < t->nsni; i++) {
		SSL_CTX_free(t->sni[i].ctx);
		free(t->sni[i].name);
	}
	for (i = 0; i < KEY_KEYS_MAX; i++)
		EVP_PKEY_free(t->proxy[i]);
	if (retire)
		key_retire(&t->kp);
	else
		key_kill(&t->kp);
	free(t);
}

int
tls_configure(struct satcheld *s)
{
	struct config *cf = s->cf;
	struct tls_state *t;
	size_t i;

	s->tls = NULL;
	if (cf->tls_cert[0] == '\0')
		return 0;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	/* The key process reads the keys: the master never does. */
	if (key_spawn(s, &t->kp) == -1) {
		free(t);
		return -1;
	}
	if ((t->def = tls_ctx_new(cf, t, 0, cf->tls_cert, cf->tls_key)) ==
	    NULL)
		goto fail;
	for (i = 0; i < cf->ntls_sni; i++) {
		if ((t->sni[i].ctx = tls_ctx_new(cf, t, i + 1,
		    cf->tls_sni[i].cert, cf->tls_sni[i].key)) == NULL ||
		    (t->sni[i].name = strdup(cf->tls_sni[i].name)) == NULL)
			goto fail;
		t->nsni = i + 1;
	}
	if (t->nsni > 0) {
		SSL_CTX_set_tlsext_servername_callback(t->def, tls_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->def, t);
	}
	ticket_rotate = cf->tls_ticket_rotate;
	if (ticket_rotate > 0 && !tls_tkeys[0].valid &&
	    ticket_new(&tls_tkeys[0]) == -1) {
		log_warnx("TLS: no random bytes for ticket keys");
		goto fail;
	}
	s->tls = t;
	return 0;
fail:
	if (t->nsni < cf->ntls_sni && t->sni[t->nsni].ctx != NULL)
		SSL_CTX_free(t->sni[t->nsni].ctx);
	tls_state_free(t, 0);
	return -1;
}

void
tls_swap(struct satcheld *s, struct satcheld *n)
{
	tls_state_free(s->tls, 1);
	s->tls = n->tls;
	n->tls = NULL;
}

void
tls_free(struct satcheld *s)
{
	tls_state_free(s->tls, 0);
	s->tls = NULL;
}

void
tls_tick(struct satcheld *s)
{
	struct tls_ticket_key k;

	key_tick(s);
	if (s->tls == NULL || ticket_rotate == 0)
		return;
	if (time(NULL) - tls_tkeys[0].made < (time_t)ticket_rotate)
		return;
	if (ticket_new(&k) == -1)
		return;
	tls_tkeys[1] = tls_tkeys[0];
	tls_tkeys[0] = k;
	explicit_bzero(&k, sizeof(k));
	log_debug("TLS: new session ticket key");
}
