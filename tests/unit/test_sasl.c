/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_sasl.c -- base64, SASL PLAIN parsing and SCRAM-SHA-256 (stored
 * keys, and a whole exchange against RFC 7677's test vector).
 */
#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "sasl.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "test.h"

struct b64_case {
	const char	*plain;
	size_t		 len;
	const char	*encoded;
};

static const struct b64_case b64_cases[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg==" },
	{ "fo", 2, "Zm8=" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg==" },
	{ "fooba", 5, "Zm9vYmE=" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\0user\0pass", 10, "AHVzZXIAcGFzcw==" },
};

static const char *b64_bad[] = {
	"Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9v", "Zh==", "Zm9=", "Zg==Zg==",
	"Z!==", "====",
};

int
main(void)
{
	char out[256], user[64], pass[64];
	size_t i;
	int n;

	TEST_START("base64 round trips (RFC 4648 vectors)");
	for (i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		n = sasl_b64_encode(b64_cases[i].plain, b64_cases[i].len, out,
		    sizeof(out));
		ASSERT_STR_EQ(out, b64_cases[i].encoded);
		ASSERT_INT_EQ(n, strlen(b64_cases[i].encoded));
		n = sasl_b64_decode(b64_cases[i].encoded,
		    strlen(b64_cases[i].encoded), out, sizeof(out));
		ASSERT_INT_EQ(n, b64_cases[i].len);
		ASSERT_MEM_EQ(out, (size_t)(n < 0 ? 0 : n), b64_cases[i].plain,
		    b64_cases[i].len);
	}
	TEST_DONE();

	TEST_START("base64 refuses malformed input");
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		n = sasl_b64_decode(b64_bad[i], strlen(b64_bad[i]), out,
		    sizeof(out));
		if (n != -1)
			printf("  accepted \"%s\"\n", b64_bad[i]);
		ASSERT_INT_EQ(n, -1);
	}
	TEST_DONE();

	TEST_START("base64 output size: exact fit, one short");
	/* 32 bytes are 44 characters with one '=': must fit 32. */
	{
		unsigned char key[32], dec[32];

		for (i = 0; i < 32; i++)
			key[i] = (unsigned char)(i * 7 + 1);
		sasl_b64_encode(key, 32, out, sizeof(out));
		ASSERT_INT_EQ(strlen(out), 44);
		ASSERT_INT_EQ(sasl_b64_decode(out, 44, dec, sizeof(dec)), 32);
		ASSERT_MEM_EQ(dec, 32, key, 32);
		ASSERT_INT_EQ(sasl_b64_decode(out, 44, dec, 31), -1);
		ASSERT_INT_EQ(sasl_b64_encode(key, 32, out, 44), -1);
	}
	TEST_DONE();

	TEST_START("PLAIN messages");
	ASSERT_INT_EQ(sasl_plain_parse("\0alice\0pw", 9, user, sizeof(user),
	    pass, sizeof(pass)), 0);
	ASSERT_STR_EQ(user, "alice");
	ASSERT_STR_EQ(pass, "pw");
	ASSERT_INT_EQ(sasl_plain_parse("alice\0alice\0p w", 15, user,
	    sizeof(user), pass, sizeof(pass)), 0);
	ASSERT_STR_EQ(pass, "p w");
	/* proxy login, empty parts, missing NUL, NUL in password */
	ASSERT_INT_EQ(sasl_plain_parse("admin\0alice\0pw", 14, user,
	    sizeof(user), pass, sizeof(pass)), -1);
	ASSERT_INT_EQ(sasl_plain_parse("\0\0pw", 4, user, sizeof(user), pass,
	    sizeof(pass)), -1);
	ASSERT_INT_EQ(sasl_plain_parse("\0alice\0", 7, user, sizeof(user),
	    pass, sizeof(pass)), -1);
	ASSERT_INT_EQ(sasl_plain_parse("alice", 5, user, sizeof(user), pass,
	    sizeof(pass)), -1);
	ASSERT_INT_EQ(sasl_plain_parse("\0alice\0p\0w", 10, user,
	    sizeof(user), pass, sizeof(pass)), -1);
	ASSERT_INT_EQ(sasl_plain_parse("\0alice\0pw", 9, user, 5, pass,
	    sizeof(pass)), -1);
	TEST_DONE();

	TEST_START("sasl_plain_parse_authz: master user logins (issue 14)");
	{
		char authz[16];

		ASSERT_INT_EQ(sasl_plain_parse_authz("alice\0admin\0pw", 14,
		    authz, sizeof(authz), user, sizeof(user), pass,
		    sizeof(pass)), 0);
		ASSERT_STR_EQ(authz, "alice");
		ASSERT_STR_EQ(user, "admin");
		ASSERT_STR_EQ(pass, "pw");
		/* authzid == authcid, or empty: no authzid */
		ASSERT_INT_EQ(sasl_plain_parse_authz("alice\0alice\0pw", 14,
		    authz, sizeof(authz), user, sizeof(user), pass,
		    sizeof(pass)), 0);
		ASSERT_STR_EQ(authz, "");
		ASSERT_INT_EQ(sasl_plain_parse_authz("\0alice\0pw", 9, authz,
		    sizeof(authz), user, sizeof(user), pass, sizeof(pass)), 0);
		ASSERT_STR_EQ(authz, "");
		/* too long an authzid for its buffer; empty authcid */
		ASSERT_INT_EQ(sasl_plain_parse_authz("alice\0admin\0pw", 14,
		    authz, 5, user, sizeof(user), pass, sizeof(pass)), -1);
		ASSERT_INT_EQ(sasl_plain_parse_authz("alice\0\0pw", 9, authz,
		    sizeof(authz), user, sizeof(user), pass, sizeof(pass)), -1);
	}
	TEST_DONE();

#ifdef HAVE_OPENSSL
	TEST_START("SCRAM-SHA-256: RFC 7677 exchange");
	{
		/* RFC 7677 section 3: user "user", password "pencil". */
		static const unsigned char salt[] = {
		    0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec,
		    0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81 };
		struct scram_server st;
		char sfirst[512], sfinal[256];
		const char *cfirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
		const char *cfinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTC"
		    "AfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7A"
		    "ndVQ=";

		ASSERT_INT_EQ(scram_client_first(&st, cfirst, strlen(cfirst)),
		    0);
		ASSERT_STR_EQ(st.user, "user");
		ASSERT_INT_EQ(scram_derive("pencil", salt, sizeof(salt), 4096,
		    &st.keys), 0);
		/* The RFC's server nonce, in place of a random one. */
		strlcpy(st.nonce, "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		    sizeof(st.nonce));
		snprintf(st.server_first, sizeof(st.server_first),
		    "r=%s,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", st.nonce);
		ASSERT_INT_EQ(scram_client_final(&st, cfinal, strlen(cfinal),
		    sfinal, sizeof(sfinal)), 1);
		ASSERT_STR_EQ(sfinal,
		    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
		(void)sfirst;
	}
	TEST_DONE();

	TEST_START("SCRAM-SHA-256: wrong proof, bad messages");
	{
		struct scram_server st;
		const char *bad_first[] = { "p=tls-unique,,n=u,r=x", "n,,r=x",
		    "n,,n=,r=abc", "n,,n=u", "n,a=bob,n=alice,r=abc",
		    "n,,n=a=2Xb,r=abc", "x,,n=u,r=abc" };

		for (i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++)
			ASSERT_INT_EQ(scram_client_first(&st, bad_first[i],
			    strlen(bad_first[i])), -1);
		ASSERT_INT_EQ(scram_client_first(&st, "n,,n=a=3Db=2Cc,r=abc",
		    20), 0);
		ASSERT_STR_EQ(st.user, "a=b,c");
		scram_fake_keys(&st);
		ASSERT_INT_EQ(scram_server_first(&st, out, sizeof(out)), 0);
		ASSERT_TRUE(strncmp(out, "r=abc", 5) == 0);
		/* a proof of the right shape but wrong */
		{
			char fin[512];

			snprintf(fin, sizeof(fin), "c=biws,r=%s,p=%s", st.nonce,
			    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
			ASSERT_INT_EQ(scram_client_final(&st, fin, strlen(fin),
			    out, sizeof(out)), 0);
			snprintf(fin, sizeof(fin), "c=biws,r=%sX,p=%s",
			    st.nonce,
			    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
			ASSERT_INT_EQ(scram_client_final(&st, fin, strlen(fin),
			    out, sizeof(out)), -1);
			snprintf(fin, sizeof(fin), "c=eSws,r=%s,p=%s", st.nonce,
			    "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
			ASSERT_INT_EQ(scram_client_final(&st, fin, strlen(fin),
			    out, sizeof(out)), -1);
		}
	}
	TEST_DONE();

	TEST_START("SCRAM-SHA-256: stored keys round trip, same salt per user");
	{
		struct scram_keys k;
		unsigned char s1[16], s2[16];
		char stored[512];

		ASSERT_INT_EQ(scram_make_stored("pencil", stored,
		    sizeof(stored)), 0);
		ASSERT_TRUE(strncmp(stored, "{SCRAM-SHA-256}4096,", 20) == 0);
		ASSERT_INT_EQ(scram_parse_stored(stored + 15, &k), 0);
		ASSERT_INT_EQ(k.iter, 4096);
		ASSERT_INT_EQ(scram_verify_plain(stored + 15, "pencil"), 1);
		ASSERT_INT_EQ(scram_verify_plain(stored + 15, "pencil2"), 0);
		ASSERT_INT_EQ(scram_verify_plain("4096,abc", "pencil"), -1);
		scram_init();
		scram_salt_for("alice", s1);
		scram_salt_for("alice", s2);
		ASSERT_MEM_EQ(s1, 16, s2, 16);
		scram_salt_for("bob", s2);
		ASSERT_TRUE(memcmp(s1, s2, 16) != 0);
	}
	TEST_DONE();
#endif

	return test_summary();
}
