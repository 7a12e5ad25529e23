/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_mysql_query.c -- the mysql module's query binding
 * (modules/auth/mysql/mysql_query.c), the SQL-injection boundary: the
 * SQL text made from the configured query never contains a byte of a
 * user name or address, every placeholder becomes one '?', and each
 * '?' is bound to exactly the bytes the client sent (quotes, o'brien,
 * backslashes, comment and statement metacharacters, %-sequences in
 * the user name), and over-long values are refused.  No MySQL needed.
 */
#include <stdio.h>
#include <string.h>

#include "mysql_query.h"
#include "test.h"

static char	 q[MYQ_QUERY_MAX];
static char	 params[MYQ_PARAMS_MAX];
static size_t	 np;
static char	 err[256];

static int
parse(const char *tmpl)
{
	err[0] = '\0';
	return myq_parse(tmpl, q, sizeof(q), params, &np, err, sizeof(err));
}

/* Count c in s. */
static size_t
count(const char *s, char c)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

static void
test_parse(void)
{
	TEST_START("parse: %u %n %d %r become ? in order");
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE local = %n AND "
	    "domain = %d AND addr <> %r OR username = %u"), 0);
	ASSERT_STR_EQ(q, "SELECT password FROM m WHERE local = ? AND "
	    "domain = ? AND addr <> ? OR username = ?");
	ASSERT_INT_EQ(np, 4);
	ASSERT_MEM_EQ(params, np, "ndru", 4);
	TEST_DONE();

	TEST_START("parse: Dovecot's quoted '%u' is %u, %% is %");
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = '%u' AND "
	    "d = \"%d\" AND x LIKE 'a%%'"), 0);
	ASSERT_STR_EQ(q, "SELECT password FROM m WHERE u = ? AND d = ? AND "
	    "x LIKE 'a%%'");
	ASSERT_INT_EQ(np, 2);
	ASSERT_MEM_EQ(params, np, "ud", 2);
	ASSERT_INT_EQ(parse("SELECT 100%% AS password FROM m WHERE u=%u"), 0);
	ASSERT_STR_EQ(q, "SELECT 100% AS password FROM m WHERE u=?");
	TEST_DONE();

	TEST_START("parse: a placeholder inside a quoted string is refused");
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = 'x%u'"), -1);
	ASSERT_TRUE(strstr(err, "inside a quoted string") != NULL);
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = `%u`"), -1);
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = 'it''s %n' "
	    "OR u = %u"), -1);
	TEST_DONE();

	TEST_START("parse: escaped quotes inside strings are kept whole");
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE c = 'a\\'%%b' AND "
	    "u = %u"), 0);
	ASSERT_STR_EQ(q, "SELECT password FROM m WHERE c = 'a\\'%%b' AND "
	    "u = ?");
	ASSERT_INT_EQ(np, 1);
	TEST_DONE();

	TEST_START("parse: unknown %-sequences, no placeholder, bad quotes");
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = %x"), -1);
	ASSERT_TRUE(strstr(err, "unknown %-sequence '%x'") != NULL);
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = %"), -1);
	ASSERT_INT_EQ(parse("SELECT password FROM m"), -1);
	ASSERT_TRUE(strstr(err, "would not depend on the user") != NULL);
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = 'open %u"), -1);
	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u = %u AND 'x"),
	    -1);
	ASSERT_TRUE(strstr(err, "unterminated ' quote") != NULL);
	ASSERT_INT_EQ(parse(""), -1);
	TEST_DONE();

	TEST_START("parse: at most 16 placeholders, query length bounded");
	{
		char big[MYQ_QUERY_MAX + 8];
		size_t i;

		strcpy(big, "SELECT password FROM m WHERE u IN (");
		for (i = 0; i < MYQ_PARAMS_MAX; i++)
			strcat(big, i == 0 ? "%u" : ",%u");
		strcat(big, ")");
		ASSERT_INT_EQ(parse(big), 0);
		ASSERT_INT_EQ(np, MYQ_PARAMS_MAX);
		ASSERT_INT_EQ(count(q, '?'), MYQ_PARAMS_MAX);
		big[strlen(big) - 1] = '\0';
		strcat(big, ",%n)");
		ASSERT_INT_EQ(parse(big), -1);
		ASSERT_TRUE(strstr(err, "more than 16") != NULL);
		memset(big, ' ', MYQ_QUERY_MAX);
		memcpy(big, "SELECT %u", 9);
		big[MYQ_QUERY_MAX] = '\0';
		ASSERT_INT_EQ(parse(big), -1);
		big[MYQ_QUERY_MAX - 1] = '\0';
		ASSERT_INT_EQ(parse(big), 0);
	}
	TEST_DONE();
}

static void
test_bind(void)
{
	static const char *const evil[] = {
		"o'brien@example.org",
		"x' OR '1'='1",
		"a\"b\\\"c",
		"u'; DROP TABLE mailbox; --",
		"back\\slash\\",
		"%u%n%d%r%%@%s.example",
		"?@?",
		"/* c */ # -- ;",
		"`tick`@`dom`",
		"\xc3\xa9l\xc3\xa8" "ve@\xc3\xa9" "cole.fr",
		"a\tb\r\nc",
	};
	struct myq_value v[MYQ_PARAMS_MAX];
	char label[96];
	const char *at;
	size_t i;

	ASSERT_INT_EQ(parse("SELECT password FROM m WHERE u=%u AND l=%n AND "
	    "d=%d AND r=%r"), 0);
	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		snprintf(label, sizeof(label), "bind: metacharacters #%zu "
		    "bound byte for byte, SQL text unchanged", i);
		TEST_START(label);
		ASSERT_INT_EQ(myq_bind(params, np, evil[i], "192.0.2.1' --",
		    v), 0);
		ASSERT_MEM_EQ(v[0].ptr, v[0].len, evil[i], strlen(evil[i]));
		at = strchr(evil[i], '@');
		if (at != NULL) {
			ASSERT_MEM_EQ(v[1].ptr, v[1].len, evil[i],
			    (size_t)(at - evil[i]));
			ASSERT_MEM_EQ(v[2].ptr, v[2].len, at + 1,
			    strlen(at + 1));
		} else {
			ASSERT_MEM_EQ(v[1].ptr, v[1].len, evil[i],
			    strlen(evil[i]));
			ASSERT_INT_EQ(v[2].len, 0);
		}
		ASSERT_MEM_EQ(v[3].ptr, v[3].len, "192.0.2.1' --", 13);
		/* The SQL text is fixed at parse time. */
		ASSERT_STR_EQ(q, "SELECT password FROM m WHERE u=? AND l=? "
		    "AND d=? AND r=?");
		TEST_DONE();
	}

	TEST_START("bind: o'brien: the quote is data, not SQL");
	ASSERT_INT_EQ(myq_bind(params, np, "o'brien", NULL, v), 0);
	ASSERT_INT_EQ(v[0].len, 7);
	ASSERT_TRUE(v[0].ptr[1] == '\'');
	ASSERT_INT_EQ(v[1].len, 7);
	ASSERT_INT_EQ(v[2].len, 0);	/* no domain */
	ASSERT_INT_EQ(v[3].len, 0);	/* no address */
	TEST_DONE();

	TEST_START("bind: %d is after the first '@', %n before it");
	ASSERT_INT_EQ(myq_bind(params, np, "a@b@c", NULL, v), 0);
	ASSERT_MEM_EQ(v[1].ptr, v[1].len, "a", 1);
	ASSERT_MEM_EQ(v[2].ptr, v[2].len, "b@c", 3);
	TEST_DONE();

	TEST_START("bind: over-long values refused, the limit accepted");
	{
		char big[MYQ_VALUE_MAX + 2];

		memset(big, 'a', sizeof(big));
		big[MYQ_VALUE_MAX] = '\0';
		ASSERT_INT_EQ(myq_bind(params, np, big, NULL, v), 0);
		ASSERT_INT_EQ(v[0].len, MYQ_VALUE_MAX);
		big[MYQ_VALUE_MAX] = 'a';
		big[MYQ_VALUE_MAX + 1] = '\0';
		ASSERT_INT_EQ(myq_bind(params, np, big, NULL, v), -1);
		ASSERT_INT_EQ(myq_bind(params, np, "u", big, v), -1);
	}
	TEST_DONE();

	TEST_START("bind: unknown parameter letter or NULL user refused");
	ASSERT_INT_EQ(myq_bind("x", 1, "u", NULL, v), -1);
	ASSERT_INT_EQ(myq_bind(params, np, NULL, NULL, v), -1);
	ASSERT_INT_EQ(myq_bind(params, MYQ_PARAMS_MAX + 1, "u", NULL, v), -1);
	TEST_DONE();
}

static void
test_columns(void)
{
	TEST_START("columns: names, userdb_ prefix, aliases, case");
	ASSERT_INT_EQ(myq_column("password"), COL_PASSWORD);
	ASSERT_INT_EQ(myq_column("PASSWORD"), COL_PASSWORD);
	ASSERT_INT_EQ(myq_column("userdb_home"), COL_HOME);
	ASSERT_INT_EQ(myq_column("username"), COL_USER);
	ASSERT_INT_EQ(myq_column("user"), COL_USER);
	ASSERT_INT_EQ(myq_column("active"), COL_ENABLED);
	ASSERT_INT_EQ(myq_column("login_delay"), COL_DELAY);
	ASSERT_INT_EQ(myq_column("quota"), COL_IGNORE);
	ASSERT_INT_EQ(myq_column(""), COL_IGNORE);
	ASSERT_STR_EQ(myq_column_name(COL_MAIL), "mail");
	ASSERT_STR_EQ(myq_column_name(99), "?");
	TEST_DONE();
}

int
main(void)
{
	test_parse();
	test_bind();
	test_columns();
	return test_summary();
}
