/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_userfmt.c -- auth_username_format (userfmt.c): the rewrite of
 * each variable and modifier, names without a domain, overflow, bad
 * formats, and the config key's check with file:line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "userfmt.h"
#include "test.h"

static void
test_apply(void)
{
	static const struct {
		const char *fmt, *in, *out;
	} cases[] = {
		{ "", "ALICE@Example.ORG", "ALICE@Example.ORG" },
		{ "%u", "ALICE@Example.ORG", "ALICE@Example.ORG" },
		{ "%Lu", "ALICE@Example.ORG", "alice@example.org" },
		{ "%Uu", "alice@example.org", "ALICE@EXAMPLE.ORG" },
		{ "%Ln@%Ld", "Frank@EXAMPLE.org", "frank@example.org" },
		{ "%n@%Ld", "Frank@EXAMPLE.org", "Frank@example.org" },
		{ "%Ln", "Bob@Example.org", "bob" },
		{ "%Ld", "Bob@Example.org", "example.org" },
		{ "%Ln", "Bob", "bob" },		/* no '@': all of it */
		{ "%d", "bob", "" },			/* no '@': empty */
		{ "%Ln@example.com", "BOB", "bob@example.com" },
		{ "100%%-%Lu", "X", "100%-x" },
	};
	char out[SATCHEL_USER_MAX + 1];
	size_t i;

	TEST_START("userfmt: variables and modifiers");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_INT_EQ(userfmt_apply(cases[i].fmt, cases[i].in, out,
		    sizeof(out)), 0);
		ASSERT_STR_EQ(out, cases[i].out);
	}
	/* Idempotent for the usual formats: applied again to a module's
	 * canonical name, it changes nothing more. */
	ASSERT_INT_EQ(userfmt_apply("%Ln@%Ld", "frank@example.org", out,
	    sizeof(out)), 0);
	ASSERT_STR_EQ(out, "frank@example.org");
	TEST_DONE();

	TEST_START("userfmt: overflow and rewrite in place");
	ASSERT_INT_EQ(userfmt_apply("%u%u", "abcd", out, 8), -1);
	ASSERT_STR_EQ(out, "");
	ASSERT_INT_EQ(userfmt_apply("%u", "abcdefg", out, 8), 0);
	ASSERT_INT_EQ(userfmt_apply("%u", "abcdefgh", out, 8), -1);
	strlcpy(out, "ALICE", sizeof(out));
	ASSERT_INT_EQ(userfmt_rewrite("%Lu", out, sizeof(out)), 0);
	ASSERT_STR_EQ(out, "alice");
	ASSERT_INT_EQ(userfmt_rewrite("", out, sizeof(out)), 0);
	ASSERT_STR_EQ(out, "alice");
	strlcpy(out, "abcdefg", sizeof(out));
	ASSERT_INT_EQ(userfmt_rewrite("%u%u", out, 8), -1);
	ASSERT_STR_EQ(out, "");
	TEST_DONE();

	TEST_START("userfmt: bad formats refused");
	{
		static const char *bad[] = { "%x", "%L", "%", "%Lx", "%L%",
		    "%h", "%Ll", "a%" };
		const char *err = NULL;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			ASSERT_INT_EQ(userfmt_check(bad[i], &err), -1);
			ASSERT_TRUE(err != NULL && strlen(err) > 0);
			ASSERT_INT_EQ(userfmt_apply(bad[i], "a", out,
			    sizeof(out)), -1);
		}
		ASSERT_INT_EQ(userfmt_check("%Lu", &err), 0);
		ASSERT_INT_EQ(userfmt_check("%Un@%Ld%%", &err), 0);
	}
	TEST_DONE();
}

static void
test_conf_key(void)
{
	char path[512], text[512];
	struct config *cf;

	TEST_START("userfmt: auth_username_format in satchel.conf");
	snprintf(path, sizeof(path), "%s/userfmt.conf", test_tmpdir());
	snprintf(text, sizeof(text), "listen = 127.0.0.1:1110\nauth = file\n"
	    "auth_username_format = %%Ln@%%Ld\n");
	test_write_file(path, text, strlen(text));
	cf = conf_load(path);
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_STR_EQ(cf->auth_username_format, "%Ln@%Ld");
		conf_free(cf);
	}
	/* The default: the name as sent (today's behaviour). */
	snprintf(text, sizeof(text), "listen = 127.0.0.1:1110\nauth = file\n");
	test_write_file(path, text, strlen(text));
	cf = conf_load(path);
	ASSERT_TRUE(cf != NULL);
	if (cf != NULL) {
		ASSERT_STR_EQ(cf->auth_username_format, "");
		conf_free(cf);
	}
	snprintf(text, sizeof(text), "listen = 127.0.0.1:1110\nauth = file\n"
	    "auth_username_format = %%Lx\n");
	test_write_file(path, text, strlen(text));
	cf = conf_load(path);
	ASSERT_TRUE(cf == NULL);
	TEST_DONE();
}

int
main(void)
{
	test_apply();
	test_conf_key();
	return test_summary();
}
