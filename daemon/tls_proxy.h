/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_proxy.h -- public-only keys whose private operations are done by
 * the key process (key.c).  The master builds them from the public keys
 * the key process sent and puts them in the SSL_CTXs; workers inherit
 * them and forward each signature or RSA decryption over the key socket.
 */
#ifndef SATCHEL_TLS_PROXY_H
#define SATCHEL_TLS_PROXY_H

#include <openssl/evp.h>

#include "key.h"

struct tls_keyref {
	const struct key_proc	*kp;
	uint32_t		 index;
};

/*
 * Master: a new EVP_PKEY holding pub's public key (RSA or EC) whose
 * private operations go to ref's key process.  ref must outlive it.
 * NULL on error.
 */
EVP_PKEY	*tls_proxy_key(EVP_PKEY *pub, const struct tls_keyref *ref);

#endif /* SATCHEL_TLS_PROXY_H */
