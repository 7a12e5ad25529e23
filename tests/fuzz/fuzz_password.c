/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_password.c -- libFuzzer target for stored password values
 * (daemon/password.c, password_digest.c): the parse and verify of every
 * scheme, the credential and CRAM-MD5 paths, and the dummy's model.
 *
 * Input: a stored value, then optionally a NUL and a password.  The
 * value goes through password_verify (result in -1..1),
 * password_plain, password_credential (a credential made is itself
 * parseable and, for {PLAIN}, verifies the secret), password_cram_md5
 * and password_dummy_learn + password_dummy.  For {PLAIN} values the
 * target checks that the secret verifies and a changed one does not.
 * Costs are capped lower at build time (PW_PBKDF2_ROUNDS_MAX and
 * PW_ARGON2_MEMORY_MAX in Makefile.am) so one input cannot stall the run.
 * Any violation calls abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "log.h"
#include "password.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	(void)log_init(1, "mail", 0);
	log_setlevel(SATCHEL_LOG_ERR);	/* the warnings are expected */
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char stored[1024], pw[256], buf[1024], cred[1024];
	unsigned char digest[16];
	const uint8_t *nul;
	size_t slen, plen;
	int r, c;

	if (size >= sizeof(stored))
		return 0;
	nul = memchr(data, '\0', size);
	slen = nul != NULL ? (size_t)(nul - data) : size;
	memcpy(stored, data, slen);
	stored[slen] = '\0';
	plen = nul != NULL ? size - slen - 1 : 0;
	if (plen >= sizeof(pw))
		plen = sizeof(pw) - 1;
	if (nul != NULL)
		memcpy(pw, nul + 1, plen);
	pw[plen] = '\0';

	r = password_verify(stored, pw);
	if (r < -1 || r > 1)
		abort();
	r = password_plain(stored, buf, sizeof(buf));
	if (r < -1 || r > 1)
		abort();
	if (r == 1 && password_verify(stored, buf) != 1)
		abort();
	c = password_credential(stored, cred, sizeof(cred));
	if (c < -1 || c > 1)
		abort();
	if (c == 1) {
		if (cred[0] != '{')
			abort();
		if (strncmp(cred, "{PLAIN}", 7) == 0) {
			if (r != 1 || strcmp(cred + 7, buf) != 0)
				abort();
			if (password_verify(cred, cred + 7) != 1)
				abort();
		}
		r = password_cram_md5(cred, pw, plen, digest);
		if (r < -1 || r > 1)
			abort();
	}
	(void)password_dummy_learn(stored);
	password_dummy(pw);
	return 0;
}
