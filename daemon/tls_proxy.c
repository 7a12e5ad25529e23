/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_proxy.c -- the worker's side of the key process (see
 * tls_proxy.h).  Runs in the worker, unprivileged, chrooted and
 * sandboxed: the RSA_METHOD and EC_KEY_METHOD callbacks of the proxy
 * keys, called by OpenSSL inside SSL_accept().  The master built those
 * keys and their methods before it forked (master_tls.c); they hold only
 * public numbers.  Each callback sends {key index, padding, data} to the
 * key process and waits at most KEY_TIMEOUT_MS for the result.  OpenSSL 3
 * runs keys with a method of their own on its legacy code path, which
 * does the digest and the PSS padding here and leaves only m^d mod n,
 * the PKCS#1 signature of a DigestInfo, or the ECDSA signature of a
 * digest to the method: that is what crosses the socket, so neither d
 * nor the primes nor the EC scalar ever exist in a worker.
 *
 * The worker connects on the first operation (the socket is in the
 * abstract namespace, so the chroot does not matter), checks that the
 * peer is the worker user or root, and keeps the connection for its
 * life; a broken connection is opened again once.
 *
 * RSA_METHOD and EC_KEY_METHOD are deprecated in OpenSSL 3.0, and stay
 * available until 4.0; a provider would do the same with ten times the
 * code.  Only this file and master_tls.c use them.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "compat/compat.h"
#include "key.h"
#include "keyproto.h"
#include "log.h"
#include "privsep.h"
#include "tls_proxy.h"
#include "compat/poison.h"

#define KEY_TIMEOUT_MS	5000

/* Worker: the connection to the key process, opened on first use. */
static int proxy_fd = -1;
static const struct key_proc *proxy_kp;

static int
proxy_connect(const struct key_proc *kp)
{
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	int fd;

	if (proxy_fd != -1 && proxy_kp == kp)
		return 0;
	if (proxy_fd != -1)
		close(proxy_fd);
	proxy_fd = -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("key process: socket");
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&kp->addr, kp->addrlen) ==
	    -1) {
		log_warn("key process: connect");
		close(fd);
		return -1;
	}
	/* The name is no secret: check who answers on it. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == -1 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		log_warnx("key process: the key socket belongs to uid %ld",
		    (long)cred.uid);
		close(fd);
		return -1;
	}
	proxy_fd = fd;
	proxy_kp = kp;
	return 0;
}

/*
 * One private-key operation.  Returns the length of the result in out,
 * or -1 (logged).
 */
static int
proxy_call(const struct tls_keyref *ref, uint32_t type, uint32_t pad,
    const unsigned char *in, size_t inlen, unsigned char *out, size_t outmax)
{
	static struct privsep_msg m;
	static struct key_req req;
	unsigned char buf[KEY_DATA_MAX + 12];
	size_t len;
	int try, r, n;

	if (ref == NULL || inlen > KEY_DATA_MAX)
		return -1;
	memset(&req, 0, sizeof(req));
	req.type = type;
	req.key = ref->index;
	req.pad = pad;
	req.len = inlen;
	memcpy(req.data, in, inlen);
	if ((len = keyproto_req_pack(&req, buf, sizeof(buf))) == 0)
		return -1;
	for (try = 0; try < 2; try++) {
		if (proxy_connect(ref->kp) == -1)
			return -1;
		if (privsep_send(proxy_fd, type, buf, len, -1) == -1) {
			close(proxy_fd);
			proxy_fd = -1;
			continue;	/* EPIPE: it went; try once more */
		}
		r = privsep_recv(proxy_fd, &m, KEY_TIMEOUT_MS);
		if (r == 1 || (r == -1 && errno != ETIMEDOUT)) {
			close(proxy_fd);
			proxy_fd = -1;
			continue;
		}
		if (r == -1) {
			log_warnx("key process: no answer in %d ms",
			    KEY_TIMEOUT_MS);
			close(proxy_fd);
			proxy_fd = -1;
			return -1;
		}
		if (m.fd != -1)
			close(m.fd);
		if (m.type != KEY_REP_RESULT || (n = keyproto_rep_parse(m.data,
		    m.len, out, outmax)) == -1) {
			log_warnx("key process: %s refused or failed",
			    keyproto_req_name(type));
			return -1;
		}
		return n;
	}
	log_warnx("key process: connection lost");
	return -1;
}

static int
proxy_rsa_pad(int padding, uint32_t *pad_r)
{
	switch (padding) {
	case RSA_NO_PADDING:
		*pad_r = KEY_PAD_NONE;
		return 0;
	case RSA_PKCS1_PADDING:
		*pad_r = KEY_PAD_PKCS1;
		return 0;
	default:
		return -1;
	}
}

int
tls_proxy_rsa_priv_enc(int flen, const unsigned char *from,
    unsigned char *to, RSA *rsa, int padding)
{
	uint32_t pad;

	if (flen < 0 || proxy_rsa_pad(padding, &pad) == -1)
		return -1;
	return proxy_call(RSA_get_ex_data(rsa, tls_proxy_rsa_idx),
	    KEY_REQ_RSA_PRIV_ENC, pad, from, (size_t)flen, to,
	    (size_t)RSA_size(rsa));
}

/* No RSA key exchange (master_tls.c sets !kRSA): decryption is refused. */
int
tls_proxy_rsa_priv_dec(int flen, const unsigned char *from,
    unsigned char *to, RSA *rsa, int padding)
{
	(void)flen;
	(void)from;
	(void)to;
	(void)rsa;
	(void)padding;
	return -1;
}

int
tls_proxy_ec_sign(int type, const unsigned char *dgst, int dlen,
    unsigned char *sig, unsigned int *siglen, const BIGNUM *kinv,
    const BIGNUM *r, EC_KEY *ec)
{
	int n;

	(void)type;
	if (kinv != NULL || r != NULL || dlen < 0)
		return 0;
	n = proxy_call(EC_KEY_get_ex_data(ec, tls_proxy_ec_idx),
	    KEY_REQ_EC_SIGN, KEY_PAD_NONE, dgst, (size_t)dlen, sig,
	    (size_t)ECDSA_size(ec));
	if (n < 0)
		return 0;
	*siglen = (unsigned int)n;
	return 1;
}

ECDSA_SIG *
tls_proxy_ec_sign_sig(const unsigned char *dgst, int dlen,
    const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	unsigned char der[256];
	const unsigned char *p = der;
	int n;

	if (kinv != NULL || r != NULL || dlen < 0 || ECDSA_size(ec) >
	    (int)sizeof(der))
		return NULL;
	n = proxy_call(EC_KEY_get_ex_data(ec, tls_proxy_ec_idx),
	    KEY_REQ_EC_SIGN, KEY_PAD_NONE, dgst, (size_t)dlen, der,
	    sizeof(der));
	if (n <= 0)
		return NULL;
	return d2i_ECDSA_SIG(NULL, &p, n);
}
