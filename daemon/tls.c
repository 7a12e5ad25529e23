/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls.c -- OpenSSL contexts and the TLS transport (see tls.h).
 *
 * tls_configure(), tls_swap() and tls_tick() run in the master, as root:
 * they start the key process (key.c), which reads the private keys, read
 * the certificate chains, and make the session ticket keys.  The master
 * never reads a private key: each SSL_CTX gets a proxy key holding only
 * the public key (tls_proxy.c), whose private operations the key process
 * does.  tls_accept() and the transport run in the worker, unprivileged
 * and chrooted, with the contexts it inherited at fork.
 *
 * Caution: ticket keys are plain static memory.  A worker gets the keys
 * that existed when it was forked; since a worker serves one session by
 * default, that is always the current key and the one before it, so a
 * ticket issued by any worker resumes on any other.
 */
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "compat/compat.h"
#include "conf.h"
#include "io.h"
#include "key.h"
#include "log.h"
#include "master.h"
#include "tls.h"
#include "tls_proxy.h"
#include "compat/poison.h"

struct tls_sni_ctx {
	char		*name;
	SSL_CTX		*ctx;
};

struct tls_state {
	SSL_CTX			*def;
	struct tls_sni_ctx	 sni[CONF_SNI_MAX];
	size_t			 nsni;
	struct key_proc		 kp;		/* holds the private keys */
	struct tls_keyref	 ref[KEY_KEYS_MAX];
	EVP_PKEY		*proxy[KEY_KEYS_MAX];	/* public only */
};

struct ticket_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
	time_t		 made;
	int		 valid;
};

/* [0] encrypts new tickets; [1] still decrypts the previous ones. */
static struct ticket_key tkeys[2];
static unsigned int ticket_rotate;

static ssize_t tls_read(struct conn *, void *, size_t, short *);
static ssize_t tls_write(struct conn *, const void *, size_t, short *);
static size_t tls_pending(struct conn *);
static void tls_close(struct conn *);

static const struct conn_transport conn_tls = {
	.read = tls_read,
	.write = tls_write,
	.pending = tls_pending,
	.close = tls_close,
};

#ifdef SSL_OP_ENABLE_KTLS
static ssize_t tls_sendfile(struct conn *, int, off_t *, size_t, short *);

/* The same, once the kernel encrypts what is sent (kTLS). */
static const struct conn_transport conn_ktls = {
	.read = tls_read,
	.write = tls_write,
	.sendfile = tls_sendfile,
	.pending = tls_pending,
	.close = tls_close,
};
#endif

static const char *
tls_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int
ticket_new(struct ticket_key *k)
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
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];
	struct ticket_key *k = NULL;
	size_t i;

	if (enc) {
		k = &tkeys[0];
		if (!k->valid || RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
		memcpy(name, k->name, sizeof(k->name));
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	} else {
		for (i = 0; i < 2; i++)
			if (tkeys[i].valid && memcmp(name, tkeys[i].name,
			    sizeof(tkeys[i].name)) == 0)
				k = &tkeys[i];
		if (k == NULL)
			return 0;	/* unknown key: full handshake */
		if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	}
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)"sha256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	/* A ticket under the previous key is accepted and renewed. */
	return enc || k == &tkeys[0] ? 1 : 2;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_state *t = arg;
	const char *name, *dot;
	size_t i;

	if ((name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) ==
	    NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (i = 0; i < t->nsni; i++)
		if (strcasecmp(t->sni[i].name, name) == 0) {
			SSL_set_SSL_CTX(ssl, t->sni[i].ctx);
			return SSL_TLSEXT_ERR_OK;
		}
	/* "*.example.org" matches one more label. */
	if ((dot = strchr(name, '.')) != NULL)
		for (i = 0; i < t->nsni; i++)
			if (t->sni[i].name[0] == '*' &&
			    strcasecmp(t->sni[i].name + 1, dot) == 0) {
				SSL_set_SSL_CTX(ssl, t->sni[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	return SSL_TLSEXT_ERR_NOACK;
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
		    cert, key_file_error("certificate"));
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
	if ((t->proxy[i] = tls_proxy_key(t->kp.pub[i], &t->ref[i])) == NULL ||
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
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
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
		SSL_CTX_set_tlsext_servername_callback(t->def, sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->def, t);
	}
	ticket_rotate = cf->tls_ticket_rotate;
	if (ticket_rotate > 0 && !tkeys[0].valid && ticket_new(&tkeys[0]) ==
	    -1) {
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
	struct ticket_key k;

	key_tick(s);
	if (s->tls == NULL || ticket_rotate == 0)
		return;
	if (time(NULL) - tkeys[0].made < (time_t)ticket_rotate)
		return;
	if (ticket_new(&k) == -1)
		return;
	tkeys[1] = tkeys[0];
	tkeys[0] = k;
	explicit_bzero(&k, sizeof(k));
	log_debug("TLS: new session ticket key");
}

int
tls_enabled(const struct satcheld *s)
{
	return s->tls != NULL;
}

int
tls_accept(struct satcheld *s, struct conn *c, int timeout_ms,
    const char **err_r)
{
	struct tls_state *t = s->tls;
	struct timespec start, now;
	struct pollfd pfd;
	SSL *ssl;
	int r, e, left;

	*err_r = "TLS is not configured";
	if (t == NULL)
		return -1;
	if ((ssl = SSL_new(t->def)) == NULL || SSL_set_fd(ssl, c->fd) != 1) {
		*err_r = tls_error();
		SSL_free(ssl);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		ERR_clear_error();
		if ((r = SSL_accept(ssl)) == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			*err_r = e == SSL_ERROR_SYSCALL && ERR_peek_error() ==
			    0 ? "connection closed during handshake" :
			    tls_error();
			SSL_free(ssl);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - (int)((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000);
		pfd.fd = c->fd;
		pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		if (left <= 0 || (r = poll(&pfd, 1, left)) == 0) {
			*err_r = "handshake timed out";
			SSL_free(ssl);
			return -1;
		}
		if (r == -1 && errno != EINTR) {
			*err_r = strerror(errno);
			SSL_free(ssl);
			return -1;
		}
	}
	c->tls = ssl;
	c->tr = &conn_tls;
#ifdef SSL_OP_ENABLE_KTLS
	if (BIO_get_ktls_send(SSL_get_wbio(ssl)))
		c->tr = &conn_ktls;
	log_debug("TLS: kernel TLS for sending: %s", c->tr == &conn_ktls ?
	    "yes" : "no (no tls module, or not for this cipher)");
#endif
	return 0;
}

const char *
tls_describe(struct conn *c)
{
	static char buf[128];
	SSL *ssl = c->tls;

	if (ssl == NULL)
		return "no";
	(void)snprintf(buf, sizeof(buf), "%s/%s%s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl), SSL_session_reused(ssl) ?
	    "/resumed" : "");
	return buf;
}

static ssize_t
tls_io_result(struct conn *c, int r, short *want)
{
	switch (SSL_get_error(c->tls, r)) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && errno == 0)
			return 0;	/* closed without close_notify */
		/* FALLTHROUGH */
	default:
		ERR_clear_error();
		if (errno == 0 || errno == EAGAIN)
			errno = EIO;
		return -1;
	}
}

static ssize_t
tls_read(struct conn *c, void *p, size_t len, short *want)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	if ((r = SSL_read(c->tls, p, (int)len)) > 0)
		return r;
	return tls_io_result(c, r, want);
}

static ssize_t
tls_write(struct conn *c, const void *p, size_t len, short *want)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	if ((r = SSL_write(c->tls, p, (int)len)) > 0)
		return r;
	return tls_io_result(c, r, want);
}

#ifdef SSL_OP_ENABLE_KTLS
static ssize_t
tls_sendfile(struct conn *c, int fd, off_t *off, size_t len, short *want)
{
	ossl_ssize_t r;

	ERR_clear_error();
	errno = 0;
	*want = POLLOUT;
	if ((r = SSL_sendfile(c->tls, fd, *off, len, 0)) > 0) {
		*off += (off_t)r;
		return (ssize_t)r;
	}
	if (SSL_get_error(c->tls, (int)r) == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		errno = EAGAIN;
		return -1;
	}
	ERR_clear_error();
	/* A failed sendfile (errno EINVAL...) lets the caller write. */
	if (errno == 0 || errno == EAGAIN)
		errno = EIO;
	return -1;
}
#endif

static size_t
tls_pending(struct conn *c)
{
	return (size_t)SSL_pending(c->tls);
}

static void
tls_close(struct conn *c)
{
	if (c->tls != NULL) {
		/* One try at close_notify; the socket is non-blocking. */
		(void)SSL_shutdown(c->tls);
		SSL_free(c->tls);
		c->tls = NULL;
	}
}
