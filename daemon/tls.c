/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls.c -- the worker's TLS transport (see tls.h): the handshake, then
 * reads and writes through OpenSSL (or the kernel, with kTLS), and the
 * SNI and session-ticket callbacks OpenSSL calls during the handshake.
 * Runs in the worker, unprivileged, chrooted and sandboxed, with the
 * contexts it inherited at fork from the master (master_tls.c builds
 * them).  It holds no private key: signatures go to the key process
 * through the proxy keys' callbacks (tls_proxy.c).
 */
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
#include "io.h"
#include "log.h"
#include "master.h"
#include "tls.h"
#include "tls_error.h"
#include "tls_int.h"
#include "compat/poison.h"

static ssize_t tls_read(struct conn *, void *, size_t, short *);
static ssize_t tls_write(struct conn *, const void *, size_t, short *);
static size_t tls_pending(struct conn *);
static void tls_close(struct conn *);

const struct conn_transport tls_transport = {
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

int
tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];
	struct tls_ticket_key *k = NULL;
	size_t i;

	if (enc) {
		k = &tls_tkeys[0];
		if (!k->valid || RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
			return -1;
		memcpy(name, k->name, sizeof(k->name));
		if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes,
		    iv) != 1)
			return -1;
	} else {
		for (i = 0; i < 2; i++)
			if (tls_tkeys[i].valid && memcmp(name,
			    tls_tkeys[i].name, sizeof(tls_tkeys[i].name)) == 0)
				k = &tls_tkeys[i];
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
	return enc || k == &tls_tkeys[0] ? 1 : 2;
}

int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
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
	c->tr = &tls_transport;
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
