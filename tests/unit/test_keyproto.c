/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_keyproto.c -- the key process's request table (keyproto.c): each
 * row accepted with the lengths and paddings it allows, everything else
 * refused with a reason; answers checked against the caller's buffer.
 */
#include <stdio.h>
#include <string.h>

#include "keyproto.h"
#include "test.h"

static const struct key_info keys[] = {
	{ KEY_KIND_RSA, 256 },
	{ KEY_KIND_EC, 72 },
	{ 0, 0 },
};

static const struct {
	const char	*label;
	uint32_t	 type, key, pad;
	size_t		 len;
	int		 ok;
	const char	*err;		/* substring of the refusal */
} cases[] = {
	{ "rsa raw, modulus size", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_NONE, 256,
	    0, NULL },
	{ "rsa raw, short", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_NONE, 255, -1,
	    "255 octets of data for key 0" },
	{ "rsa pkcs1 DigestInfo", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_PKCS1, 51,
	    0, NULL },
	{ "rsa pkcs1, size - 11", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_PKCS1, 245,
	    0, NULL },
	{ "rsa pkcs1, size - 10", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_PKCS1, 246,
	    -1, "246 octets" },
	{ "rsa pkcs1, empty", KEY_REQ_RSA_PRIV_ENC, 0, KEY_PAD_PKCS1, 0, -1,
	    "0 octets" },
	{ "rsa, padding 4 (OAEP)", KEY_REQ_RSA_PRIV_ENC, 0, 4, 256, -1,
	    "rsa-sign: padding 4 refused" },
	{ "rsa sign with the EC key", KEY_REQ_RSA_PRIV_ENC, 1, KEY_PAD_NONE,
	    72, -1, "key 1 is not of that kind" },
	{ "ec sha256", KEY_REQ_EC_SIGN, 1, KEY_PAD_NONE, 32, 0, NULL },
	{ "ec sha512", KEY_REQ_EC_SIGN, 1, KEY_PAD_NONE, 64, 0, NULL },
	{ "ec 65 octets", KEY_REQ_EC_SIGN, 1, KEY_PAD_NONE, 65, -1,
	    "65 octets" },
	{ "ec empty", KEY_REQ_EC_SIGN, 1, KEY_PAD_NONE, 0, -1, "0 octets" },
	{ "ec pkcs1", KEY_REQ_EC_SIGN, 1, KEY_PAD_PKCS1, 32, -1,
	    "padding 1 refused" },
	{ "ec sign with the RSA key", KEY_REQ_EC_SIGN, 0, KEY_PAD_NONE, 32,
	    -1, "ec-sign: key 0 is not of that kind" },
	{ "empty key slot", KEY_REQ_EC_SIGN, 2, KEY_PAD_NONE, 32, -1,
	    "wrong key index 2" },
	{ "key out of range", KEY_REQ_EC_SIGN, 3, KEY_PAD_NONE, 32, -1,
	    "wrong key index 3" },
	{ "huge key index", KEY_REQ_EC_SIGN, 0xffffffff, KEY_PAD_NONE, 32,
	    -1, "wrong key index 4294967295" },
	{ "rsa decryption (not in the table)", 2, 0, KEY_PAD_NONE, 256, -1,
	    "unknown request type 2" },
	{ "type 0", 0, 0, KEY_PAD_NONE, 32, -1, "unknown request type 0" },
	{ "an answer as a request", KEY_REP_RESULT, 0, 0, 32, -1,
	    "unknown request type 16" },
};

int
main(void)
{
	static struct key_req r, out;
	unsigned char buf[KEY_DATA_MAX + 64], res[128];
	const char *err;
	char label[128];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(label, sizeof(label), "request: %s",
		    cases[i].label);
		TEST_START(label);
		memset(&r, 0, sizeof(r));
		r.key = cases[i].key;
		r.pad = cases[i].pad;
		r.len = cases[i].len;
		memset(r.data, 0x5a, r.len);
		n = keyproto_req_pack(&r, buf, sizeof(buf));
		ASSERT_INT_EQ(n, 12 + cases[i].len);
		err = NULL;
		ASSERT_INT_EQ(keyproto_req_parse(cases[i].type, buf, n, keys,
		    3, &out, &err), cases[i].ok);
		if (cases[i].ok == 0) {
			ASSERT_INT_EQ(out.type, cases[i].type);
			ASSERT_INT_EQ(out.key, cases[i].key);
			ASSERT_INT_EQ(out.len, cases[i].len);
			ASSERT_MEM_EQ(out.data, out.len, r.data, r.len);
		} else
			ASSERT_TRUE(err != NULL && strstr(err,
			    cases[i].err) != NULL);
		TEST_DONE();
	}

	TEST_START("request framing");
	memset(&r, 0, sizeof(r));
	r.key = 1;
	r.len = 32;
	n = keyproto_req_pack(&r, buf, sizeof(buf));
	/* one octet short, one too many, a lying length, only a header */
	ASSERT_INT_EQ(keyproto_req_parse(KEY_REQ_EC_SIGN, buf, n - 1, keys, 3,
	    &out, &err), -1);
	ASSERT_TRUE(strstr(err, "does not match") != NULL);
	buf[n] = 0;
	ASSERT_INT_EQ(keyproto_req_parse(KEY_REQ_EC_SIGN, buf, n + 1, keys, 3,
	    &out, &err), -1);
	ASSERT_INT_EQ(keyproto_req_parse(KEY_REQ_EC_SIGN, buf, 11, keys, 3,
	    &out, &err), -1);
	ASSERT_TRUE(strstr(err, "bad length 11") != NULL);
	ASSERT_INT_EQ(keyproto_req_parse(KEY_REQ_EC_SIGN, buf, 12 +
	    KEY_DATA_MAX + 1, keys, 3, &out, &err), -1);
	ASSERT_TRUE(strstr(err, "bad length") != NULL);
	r.len = KEY_DATA_MAX + 1;
	ASSERT_INT_EQ(keyproto_req_pack(&r, buf, sizeof(buf)), 0);
	r.len = 32;
	ASSERT_INT_EQ(keyproto_req_pack(&r, buf, 40), 0);
	ASSERT_STR_EQ(keyproto_req_name(KEY_REQ_EC_SIGN), "ec-sign");
	ASSERT_STR_EQ(keyproto_req_name(2), "unknown");
	TEST_DONE();

	TEST_START("answers");
	memset(r.data, 0x33, 72);
	n = keyproto_rep_pack(KEY_OK, r.data, 72, buf, sizeof(buf));
	ASSERT_INT_EQ(n, 80);
	ASSERT_INT_EQ(keyproto_rep_parse(buf, n, res, sizeof(res)), 72);
	ASSERT_MEM_EQ(res, 72, r.data, 72);
	/* longer than the signature the caller can take */
	ASSERT_INT_EQ(keyproto_rep_parse(buf, n, res, 71), -1);
	ASSERT_INT_EQ(keyproto_rep_parse(buf, n - 1, res, sizeof(res)), -1);
	ASSERT_INT_EQ(keyproto_rep_parse(buf, 7, res, sizeof(res)), -1);
	n = keyproto_rep_pack(KEY_FAILED, NULL, 0, buf, sizeof(buf));
	ASSERT_INT_EQ(n, 8);
	ASSERT_INT_EQ(keyproto_rep_parse(buf, n, res, sizeof(res)), -1);
	ASSERT_INT_EQ(keyproto_rep_pack(KEY_OK, r.data, KEY_DATA_MAX + 1, buf,
	    sizeof(buf)), 0);
	TEST_DONE();
	return test_summary();
}
