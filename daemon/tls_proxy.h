/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_proxy.h -- public-only keys whose private operations are done by
 * the key process (key.c).  The master builds them from the public keys
 * the key process sent and puts them in the SSL_CTXs (master_tls.c);
 * workers inherit them and forward each signature over the key socket
 * (tls_proxy.c, in the worker).
 */
#ifndef SATCHEL_TLS_PROXY_H
#define SATCHEL_TLS_PROXY_H

#include <openssl/types.h>

#include "key.h"

struct tls_keyref {
	const struct key_proc	*kp;
	uint32_t		 index;
};

/*
 * master_tls.c: the ex_data index under which each proxy RSA or EC key
 * holds its struct tls_keyref (set once, in the master, before fork).
 */
extern int	 tls_proxy_rsa_idx, tls_proxy_ec_idx;

/*
 * tls_proxy.c, worker: the proxy keys' RSA_METHOD and EC_KEY_METHOD
 * callbacks (OpenSSL's signatures).  Each sends one operation to the key
 * process and returns its result; RSA decryption is always refused.
 */
int	 tls_proxy_rsa_priv_enc(int flen, const unsigned char *from,
	    unsigned char *to, RSA *rsa, int padding);
int	 tls_proxy_rsa_priv_dec(int flen, const unsigned char *from,
	    unsigned char *to, RSA *rsa, int padding);
int	 tls_proxy_ec_sign(int type, const unsigned char *dgst, int dlen,
	    unsigned char *sig, unsigned int *siglen, const BIGNUM *kinv,
	    const BIGNUM *r, EC_KEY *ec);
ECDSA_SIG *tls_proxy_ec_sign_sig(const unsigned char *dgst, int dlen,
	    const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec);

#endif /* SATCHEL_TLS_PROXY_H */
