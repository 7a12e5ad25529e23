/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_scram.c -- libFuzzer target for daemon/scram.c: the parsers of
 * the SCRAM-SHA-256 client-first and client-final messages (what a
 * client sends, relayed by the worker to the auth pool) and of the
 * stored keys "{SCRAM-SHA-256}ITER,SALT,STOREDKEY,SERVERKEY".
 *
 * Input: one selector byte, then the payload.
 *  0: scram_parse_stored() on the payload (as a C string).  On success
 *     the iteration count is positive and the salt fits.
 *  1: scram_client_first() on the payload.  On success: the user is
 *     non-empty, the gs2 header is a prefix of the input and
 *     client-first-bare its rest, the nonce is printable.
 *  2: a fixed client-first ("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"),
 *     keys derived from a known password, server-first; then
 *     scram_client_final() on the payload.  A forged proof must never
 *     be accepted: 1 is only allowed for the message the harness
 *     proves itself (mode 3).
 *  3: the same exchange, but the harness builds a correct client-final
 *     (with the payload, made printable and comma-free, as an extension
 *     attribute), computing the proof on its own from the password with
 *     OpenSSL: it must be accepted with the right server signature;
 *     the same message with one proof bit flipped must be refused.
 * No network, no disk (getrandom only); nothing is left allocated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "sasl.h"
#include "scram.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PASSWORD	"pencil"
#define ITER		2	/* cheap: the fuzzer is after the parsers */
#define CFIRST		"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"

static unsigned char salted[32], client_key[32], server_key[32];
static struct scram_keys keys;
static int ready;

static void
hmac(const unsigned char *k, const void *m, size_t mlen, unsigned char *out)
{
	unsigned int olen = 32;

	if (HMAC(EVP_sha256(), k, 32, m, mlen, out, &olen) == NULL)
		abort();
}

static void
setup(void)
{
	static const unsigned char salt[16] = "0123456789abcdef";

	if (ready)
		return;
	if (PKCS5_PBKDF2_HMAC(PASSWORD, (int)strlen(PASSWORD), salt,
	    sizeof(salt), ITER, EVP_sha256(), 32, salted) != 1)
		abort();
	hmac(salted, "Client Key", 10, client_key);
	hmac(salted, "Server Key", 10, server_key);
	if (scram_derive(PASSWORD, salt, sizeof(salt), ITER, &keys) != 0)
		abort();
	/* scram.c and the harness agree on the keys. */
	if (memcmp(keys.server, server_key, 32) != 0)
		abort();
	scram_init();
	ready = 1;
}

static void
start(struct scram_server *st, char *sfirst, size_t sfsz)
{
	if (scram_client_first(st, CFIRST, strlen(CFIRST)) != 0)
		abort();
	st->keys = keys;
	if (scram_server_first(st, sfirst, sfsz) != 0)
		abort();
}

static void
mode_stored(const uint8_t *p, size_t len)
{
	struct scram_keys k;
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	if (scram_parse_stored(s, &k) == 0 &&
	    (k.iter == 0 || k.saltlen > sizeof(k.salt)))
		abort();
	free(s);
}

static void
mode_first(const uint8_t *p, size_t len)
{
	struct scram_server st;
	size_t g, b;

	if (scram_client_first(&st, (const char *)p, len) != 0)
		return;
	g = strlen(st.gs2);
	b = strlen(st.client_first_bare);
	if (st.user[0] == '\0' || g + b != len ||
	    memcmp(st.gs2, p, g) != 0 ||
	    memcmp(st.client_first_bare, p + g, b) != 0 ||
	    st.nonce[0] == '\0' || strchr(st.nonce, ',') != NULL)
		abort();
}

static void
mode_final(const uint8_t *p, size_t len)
{
	struct scram_server st;
	char sfirst[SCRAM_MSG_MAX], out[128];
	int r;

	start(&st, sfirst, sizeof(sfirst));
	r = scram_client_final(&st, (const char *)p, len, out, sizeof(out));
	/* Without the proof computed from the password, never 1. */
	if (r != -1 && r != 0)
		abort();
	explicit_bzero(&st, sizeof(st));
}

static void
mode_proof(const uint8_t *p, size_t len)
{
	struct scram_server st;
	char sfirst[SCRAM_MSG_MAX], msg[SCRAM_MSG_MAX], out[128], ext[256];
	char authmsg[3 * SCRAM_MSG_MAX], b64[64], want[64];
	unsigned char stored[32], sig[32], proof[32], ssig[32];
	size_t i, n;
	int w, r;

	start(&st, sfirst, sizeof(sfirst));
	/* An extension "x=..." made of the payload, printable, no comma. */
	n = len < 100 ? len : 100;
	for (i = 0; i < n; i++) {
		ext[i] = (char)(0x21 + p[i] % 0x5e);
		if (ext[i] == ',')
			ext[i] = '.';
	}
	ext[n] = '\0';
	w = snprintf(msg, sizeof(msg), "c=biws,r=%s%s%s", st.nonce,
	    n > 0 ? ",x=" : "", ext);
	if (w < 0 || (size_t)w >= sizeof(msg))
		abort();
	w = snprintf(authmsg, sizeof(authmsg), "%s,%s,%s",
	    st.client_first_bare, sfirst, msg);
	if (w < 0 || (size_t)w >= sizeof(authmsg))
		abort();
	SHA256(client_key, 32, stored);
	hmac(stored, authmsg, (size_t)w, sig);
	for (i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	hmac(server_key, authmsg, (size_t)w, ssig);
	if (sasl_b64_encode(ssig, 32, b64, sizeof(b64)) < 0)
		abort();
	snprintf(want, sizeof(want), "v=%s", b64);

	n = strlen(msg);
	if (sasl_b64_encode(proof, 32, b64, sizeof(b64)) < 0 ||
	    n + 3 + strlen(b64) >= sizeof(msg))
		abort();
	memcpy(msg + n, ",p=", 3);
	memcpy(msg + n + 3, b64, strlen(b64) + 1);
	r = scram_client_final(&st, msg, strlen(msg), out, sizeof(out));
	if (r != 1 || strcmp(out, want) != 0)
		abort();

	/* One bit of the proof flipped: refused. */
	proof[p != NULL && len > 0 ? p[0] % 32 : 0] ^= 1;
	if (sasl_b64_encode(proof, 32, b64, sizeof(b64)) < 0)
		abort();
	memcpy(msg + n + 3, b64, strlen(b64) + 1);
	if (scram_client_final(&st, msg, strlen(msg), out, sizeof(out)) != 0)
		abort();
	explicit_bzero(&st, sizeof(st));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	switch (data[0] & 3) {
	case 0:
		mode_stored(data + 1, size - 1);
		break;
	case 1:
		mode_first(data + 1, size - 1);
		break;
	case 2:
		mode_final(data + 1, size - 1);
		break;
	case 3:
		mode_proof(data + 1, size - 1);
		break;
	}
	return 0;
}
