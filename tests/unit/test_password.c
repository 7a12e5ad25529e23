/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_password.c -- password schemes (daemon/password.c and
 * password_digest.c), MD5, HMAC-MD5 and its key state (daemon/md5.c),
 * CRAM-MD5 from stored credentials, the dummy work for unknown users,
 * and the APOP digest of RFC 1939.  The crypt hashes are made here with
 * libxcrypt, and every Dovecot scheme with Dovecot's own doveadm pw, so
 * the tests check our parsing and comparison against the producers, not
 * against pasted strings.
 */
#include <sys/wait.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "md5.h"
#include "password.h"
#include "test.h"
#include "compat/poison.h"

#define PW	"correct horse"

/* Generated hashes of PW, bare and tagged. */
static char h_y[CRYPT_OUTPUT_SIZE], h_2b[CRYPT_OUTPUT_SIZE];
static char h_2y[CRYPT_OUTPUT_SIZE], h_6[CRYPT_OUTPUT_SIZE];
static char h_5[CRYPT_OUTPUT_SIZE], h_6short[CRYPT_OUTPUT_SIZE];
static char t_y[CRYPT_OUTPUT_SIZE + 32], t_2b[CRYPT_OUTPUT_SIZE + 32];
static char t_2y[CRYPT_OUTPUT_SIZE + 32], t_6[CRYPT_OUTPUT_SIZE + 32];
static char t_5[CRYPT_OUTPUT_SIZE + 32], t_6lc[CRYPT_OUTPUT_SIZE + 32];
static char t_crypt[CRYPT_OUTPUT_SIZE + 32], t_wrong[CRYPT_OUTPUT_SIZE + 32];
static char t_y_lc[CRYPT_OUTPUT_SIZE + 32];
static char h_1[CRYPT_OUTPUT_SIZE], t_1[CRYPT_OUTPUT_SIZE + 32];
static char t_1wrong[CRYPT_OUTPUT_SIZE + 32];

static void
make_hash(const char *prefix, unsigned long count, char *out, size_t outsz)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *h;

	if ((cd = calloc(1, sizeof(*cd))) == NULL ||
	    crypt_gensalt_rn(prefix, count, NULL, 0, setting,
	    (int)sizeof(setting)) == NULL ||
	    (h = crypt_r(PW, setting, cd)) == NULL || h[0] == '*' ||
	    strlen(h) >= outsz) {
		printf("cannot make a %s hash\n", prefix);
		exit(2);
	}
	memcpy(out, h, strlen(h) + 1);
	free(cd);
}

static void
tag(char *out, size_t outsz, const char *scheme, const char *hash)
{
	int n;

	n = snprintf(out, outsz, "{%s}%s", scheme, hash);
	if (n < 0 || (size_t)n >= outsz)
		exit(2);
}

static void
setup(void)
{
	make_hash("$y$", 0, h_y, sizeof(h_y));
	make_hash("$2b$", 4, h_2b, sizeof(h_2b));
	make_hash("$6$", 0, h_6, sizeof(h_6));
	make_hash("$5$", 0, h_5, sizeof(h_5));
	/* $2y$ and $2b$ differ in name only for hashes of ASCII text. */
	memcpy(h_2y, h_2b, sizeof(h_2y));
	h_2y[2] = 'y';
	/* The hash with its last character cut: a length mismatch. */
	memcpy(h_6short, h_6, sizeof(h_6short));
	h_6short[strlen(h_6short) - 1] = '\0';
	tag(t_y, sizeof(t_y), "YESCRYPT", h_y);
	tag(t_y_lc, sizeof(t_y_lc), "yesCrypt", h_y);
	tag(t_2b, sizeof(t_2b), "BLF-CRYPT", h_2b);
	tag(t_2y, sizeof(t_2y), "BLF-CRYPT", h_2y);
	tag(t_6, sizeof(t_6), "SHA512-CRYPT", h_6);
	tag(t_6lc, sizeof(t_6lc), "sha512-crypt", h_6);
	tag(t_5, sizeof(t_5), "SHA256-CRYPT", h_5);
	tag(t_crypt, sizeof(t_crypt), "CRYPT", h_6);
	tag(t_wrong, sizeof(t_wrong), "YESCRYPT", h_6);	/* mislabelled */
	make_hash("$1$", 0, h_1, sizeof(h_1));
	tag(t_1, sizeof(t_1), "MD5-CRYPT", h_1);
	tag(t_1wrong, sizeof(t_1wrong), "MD5-CRYPT", h_6);
}

static const struct {
	const char	*label;
	const char	*stored;
	const char	*password;
	int		 expect;
} verify_cases[] = {
	{ "bare yescrypt ok",		h_y,	PW,		1 },
	{ "bare yescrypt wrong",	h_y,	"correct horsE", 0 },
	{ "bare bcrypt 2b ok",		h_2b,	PW,		1 },
	{ "bare bcrypt 2b wrong",	h_2b,	"",		0 },
	{ "bare bcrypt 2y ok",		h_2y,	PW,		1 },
	{ "bare sha512 ok",		h_6,	PW,		1 },
	{ "bare sha512 wrong",		h_6,	"correct horse ", 0 },
	{ "bare sha256 ok",		h_5,	PW,		1 },
	{ "bare sha256 wrong",		h_5,	"x",		0 },
	{ "sha512 cut short",		h_6short, PW,		0 },
	{ "{YESCRYPT} ok",		t_y,	PW,		1 },
	{ "{yesCrypt} ok",		t_y_lc,	PW,		1 },
	{ "{YESCRYPT} wrong",		t_y,	"nope",		0 },
	{ "{BLF-CRYPT} 2b ok",		t_2b,	PW,		1 },
	{ "{BLF-CRYPT} 2y ok",		t_2y,	PW,		1 },
	{ "{SHA512-CRYPT} ok",		t_6,	PW,		1 },
	{ "{sha512-crypt} ok",		t_6lc,	PW,		1 },
	{ "{SHA512-CRYPT} wrong",	t_6,	"Correct horse", 0 },
	{ "{SHA256-CRYPT} ok",		t_5,	PW,		1 },
	{ "{CRYPT} sha512 ok",		t_crypt, PW,		1 },
	{ "{YESCRYPT} holding $6$",	t_wrong, PW,		-1 },
	{ "{PLAIN} ok",			"{PLAIN}tanstaaf", "tanstaaf", 1 },
	{ "{plain} ok",			"{plain}tanstaaf", "tanstaaf", 1 },
	{ "{CLEAR} ok",			"{CLEAR}s3cret:x", "s3cret:x", 1 },
	{ "{PLAIN} wrong",		"{PLAIN}tanstaaf", "tanstaaF", 0 },
	{ "{PLAIN} prefix",		"{PLAIN}tanstaaf", "tanstaa", 0 },
	{ "{PLAIN} longer",		"{PLAIN}tanstaaf", "tanstaaf1", 0 },
	{ "{PLAIN} empty password",	"{PLAIN}tanstaaf", "",		0 },
	{ "{PLAIN} empty secret",	"{PLAIN}",	"",		-1 },
	{ "bare $6$",			"$6$",		PW,		-1 },
	{ "bare $6$salt$",		"$6$salt$",	PW,		-1 },
	{ "star",			"*",		PW,		-1 },
	{ "{CRYPT}*0",			"{CRYPT}*0",	PW,		-1 },
	{ "{CRYPT} empty",		"{CRYPT}",	PW,		-1 },
	{ "{SHA512-CRYPT} empty",	"{SHA512-CRYPT}", PW,		-1 },
	{ "unknown scheme",		"{UNKNOWN}x",	"x",		-1 },
	{ "no closing brace",		"{PLAIN",	"{PLAIN",	-1 },
	{ "empty stored",		"",		"",		-1 },
	{ "plain text, no scheme",	"tanstaaf",	"tanstaaf",	-1 },
	{ "bare md5-crypt of another password",
	    "$1$abcdefgh$Vx8R5ejXjXw4nuOlUhBCa/", PW, 0 },
	{ "bare md5-crypt ok",		h_1,	PW,		1 },
	{ "{MD5-CRYPT} ok",		t_1,	PW,		1 },
	{ "{MD5-CRYPT} wrong",		t_1,	"correct horsf", 0 },
	{ "{MD5-CRYPT} holding $6$",	t_1wrong, PW,		-1 },
	{ "{SHA} RFC 3174 'abc'", "{SHA}qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "abc", 1 },
	{ "{SHA.HEX} 'abc'",
	    "{SHA.hex}a9993e364706816aba3e25717850c26c9cd0d89d", "abc", 1 },
	{ "{SHA} wrong",	"{SHA}qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "abd", 0 },
	{ "{SHA} wrong length",	"{SHA}qZk+NkcGgWq6PiVxeFDCbJzQ",	"abc", -1 },
	{ "{PLAIN-MD5} 'abc'", "{PLAIN-MD5}900150983cd24fb0d6963f7d28e17f72",
	    "abc", 1 },
	{ "{PLAIN-MD5} upper-case hex",
	    "{PLAIN-MD5}900150983CD24FB0D6963F7D28E17F72", "abc", 1 },
	{ "{LDAP-MD5} 'abc'",	"{LDAP-MD5}kAFQmDzST7DWlj99KOF/cg==", "abc", 1 },
	{ "{PLAIN-MD5.B64} 'abc'", "{PLAIN-MD5.b64}kAFQmDzST7DWlj99KOF/cg==",
	    "abc", 1 },
	{ "{LDAP-MD5} not base64", "{LDAP-MD5}kAFQmDzST7DWlj99KOF/c!==", "abc",
	    -1 },
	{ "{SSHA} too short",	"{SSHA}qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", "abc", -1 },
	{ "{PLAIN.B64} ok",	"{PLAIN.B64}dGFuc3RhYWY=", "tanstaaf",	1 },
	{ "{PLAIN.B64} wrong",	"{PLAIN.B64}dGFuc3RhYWY=", "tanstaaF",	0 },
	{ "unknown suffix",	"{SHA.B32}abc",	"abc",		-1 },
	{ "suffix on a crypt scheme", "{SHA512-CRYPT.HEX}2424", PW, -1 },
	{ "{CRAM-MD5} short",	"{CRAM-MD5}00ff",	"x",		-1 },
	{ "{PBKDF2} malformed",	"{PBKDF2}$1$salt$5000$00",	"x",	-1 },
	{ "{PBKDF2} no rounds",	"{PBKDF2}$1$salt$$0000000000000000000000000000000000000000",
	    "x", -1 },
	{ "{PBKDF2} rounds over the ceiling",
	    "{PBKDF2}$1$salt$99999999$0000000000000000000000000000000000000000",
	    "x", -1 },
	{ "{ARGON2ID} memory over the ceiling",
	    "{ARGON2ID}$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHQ$aGFzaA",
	    "x", -1 },
	{ "{ARGON2I} holding argon2id",
	    "{ARGON2I}$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "x", -1 },
	{ "{ARGON2ID} junk",	"{ARGON2ID}$argon2id$junk",	"x",	-1 },
	{ "bcrypt cost 31 refused",	"$2b$31$abcdefghijklmnopqrstuu5ZKDcO5jQlmtZr4O5.5QEm2q3OaK8Lm",
	    PW, -1 },
	{ "SHA-crypt rounds over the ceiling",
	    "$6$rounds=999999999$salt$abc", PW, -1 },
	{ "NTLM refused",	"{NTLM}8846f7eaee8fb117ad06bdd830b7586c", "x", -1 },
	{ "garbage bcrypt",		"$2b$05$!!!!",	PW,		-1 },
};

static void
test_verify(void)
{
	size_t i;
	char label[128];

	for (i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		snprintf(label, sizeof(label), "verify: %s",
		    verify_cases[i].label);
		TEST_START(label);
		ASSERT_INT_EQ(password_verify(verify_cases[i].stored,
		    verify_cases[i].password), verify_cases[i].expect);
		TEST_DONE();
	}

	TEST_START("verify: NULL stored or password");
	ASSERT_INT_EQ(password_verify(NULL, "x"), -1);
	ASSERT_INT_EQ(password_verify("{PLAIN}x", NULL), -1);
	TEST_DONE();

	/* Rejected or merely never equal, as libxcrypt sees fit. */
	TEST_START("verify: a setting without a hash never matches");
	ASSERT_TRUE(password_verify("$y$j9T$abc", PW) != 1);
	ASSERT_TRUE(password_verify("$y$j9T$abc$", PW) == -1);
	TEST_DONE();
}

static void
test_plain(void)
{
	char buf[16];

	TEST_START("plain: {PLAIN} secret copied");
	memset(buf, 'x', sizeof(buf));
	ASSERT_INT_EQ(password_plain("{PLAIN}tanstaaf", buf, sizeof(buf)), 1);
	ASSERT_STR_EQ(buf, "tanstaaf");
	ASSERT_INT_EQ(password_plain("{clear}abc", buf, sizeof(buf)), 1);
	ASSERT_STR_EQ(buf, "abc");
	TEST_DONE();

	TEST_START("plain: hashes and junk give 0");
	ASSERT_INT_EQ(password_plain(h_y, buf, sizeof(buf)), 0);
	ASSERT_INT_EQ(password_plain(t_6, buf, sizeof(buf)), 0);
	ASSERT_INT_EQ(password_plain("{UNKNOWN}x", buf, sizeof(buf)), 0);
	ASSERT_INT_EQ(password_plain("", buf, sizeof(buf)), 0);
	ASSERT_INT_EQ(password_plain("{PLAIN}", buf, sizeof(buf)), 0);
	TEST_DONE();

	TEST_START("plain: buffer too small");
	ASSERT_INT_EQ(password_plain("{PLAIN}0123456789abcdef", buf,
	    sizeof(buf)), -1);
	ASSERT_INT_EQ(password_plain("{PLAIN}0123456789abcde", buf,
	    sizeof(buf)), 1);
	ASSERT_INT_EQ(password_plain("{PLAIN}x", buf, 0), -1);
	TEST_DONE();
}

static void
test_hash(void)
{
	static const struct {
		const char	*scheme;
		const char	*prefix;
	} cases[] = {
		{ "SHA512-CRYPT",	"{SHA512-CRYPT}$6$" },
		{ "sha256-crypt",	"{SHA256-CRYPT}$5$" },
		{ "BLF-CRYPT",		"{BLF-CRYPT}$2b$" },
		{ "YESCRYPT",		"{YESCRYPT}$y$" },
		{ "plain",		"{PLAIN}" },
	};
	char a[256], b[256], label[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(label, sizeof(label), "hash: %s round trip",
		    cases[i].scheme);
		TEST_START(label);
		ASSERT_INT_EQ(password_hash(cases[i].scheme, "pa ss:wd", a,
		    sizeof(a)), 0);
		ASSERT_INT_EQ(strncmp(a, cases[i].prefix,
		    strlen(cases[i].prefix)), 0);
		ASSERT_INT_EQ(password_verify(a, "pa ss:wd"), 1);
		ASSERT_INT_EQ(password_verify(a, "pa ss:wD"), 0);
		ASSERT_INT_EQ(password_hash(cases[i].scheme, "pa ss:wd", b,
		    sizeof(b)), 0);
		/* A fresh salt each time, except for plaintext. */
		if (strcmp(cases[i].scheme, "plain") != 0)
			ASSERT_TRUE(strcmp(a, b) != 0);
		TEST_DONE();
	}

	TEST_START("hash: bad scheme or buffer");
	ASSERT_INT_EQ(password_hash("MD5-CRYPT", "x", a, sizeof(a)), -1);
	ASSERT_INT_EQ(password_hash("CRYPT", "x", a, sizeof(a)), -1);
	ASSERT_INT_EQ(password_hash("SHA512-CRYPT", "x", a, 20), -1);
	ASSERT_INT_EQ(password_hash("PLAIN", "0123456789", a, 10), -1);
	ASSERT_INT_EQ(password_hash(NULL, "x", a, sizeof(a)), -1);
	TEST_DONE();
}

static void
md5_str(const void *p, size_t len, char hex[33])
{
	struct satchel_md5 ctx;
	unsigned char d[16];

	md5_init(&ctx);
	md5_update(&ctx, p, len);
	md5_final(&ctx, d);
	md5_hex(d, hex);
}

static void
test_md5(void)
{
	/* RFC 1321, appendix A.5. */
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz",
		    "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "1234567890123456789012345678901234567890"
		    "1234567890123456789012345678901234567890",
		    "57edf4a22be3c955ac49da2e2107b67a" },
	};
	struct satchel_md5 ctx;
	unsigned char d[16];
	char hex[33], label[64], *big;
	size_t i, j, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(label, sizeof(label), "md5: RFC 1321 #%zu", i + 1);
		TEST_START(label);
		len = strlen(cases[i].in);
		md5_str(cases[i].in, len, hex);
		ASSERT_STR_EQ(hex, cases[i].out);
		/* The same, one byte at a time. */
		md5_init(&ctx);
		for (j = 0; j < len; j++)
			md5_update(&ctx, cases[i].in + j, 1);
		md5_final(&ctx, d);
		md5_hex(d, hex);
		ASSERT_STR_EQ(hex, cases[i].out);
		TEST_DONE();
	}

	TEST_START("md5: block boundaries 55, 56, 63, 64, 65");
	/* md5 of 'a' * n, as given by md5sum(1). */
	{
		static const struct {
			size_t		 n;
			const char	*out;
		} b[] = {
			{ 55, "ef1772b6dff9a122358552954ad0df65" },
			{ 56, "3b0c8ac703f828b04c6c197006d17218" },
			{ 63, "b06521f39153d618550606be297466d5" },
			{ 64, "014842d480b571495a4a0363793f7367" },
			{ 65, "c743a45e0d2e6a95cb859adae0248435" },
		};
		char as[65];

		memset(as, 'a', sizeof(as));
		for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
			md5_str(as, b[i].n, hex);
			ASSERT_STR_EQ(hex, b[i].out);
		}
	}
	TEST_DONE();

	TEST_START("md5: a million 'a' in odd chunks");
	if ((big = malloc(1000000)) == NULL)
		exit(2);
	memset(big, 'a', 1000000);
	md5_init(&ctx);
	for (i = 0; i < 1000000; i += len) {
		len = 1000000 - i < 997 ? 1000000 - i : 997;
		md5_update(&ctx, big + i, len);
	}
	md5_final(&ctx, d);
	md5_hex(d, hex);
	ASSERT_STR_EQ(hex, "7707d6ae4e027c70eea2a935c2296f21");
	free(big);
	TEST_DONE();
}

static void
test_hmac(void)
{
	/* RFC 2202, section 2. */
	static const struct {
		const char	*key;
		size_t		 keylen;
		int		 keyfill;	/* >= 0: keylen bytes of it */
		const char	*msg;
		size_t		 msglen;
		int		 msgfill;
		const char	*out;
	} cases[] = {
		{ NULL, 16, 0x0b, "Hi There", 8, -1,
		    "9294727a3638bb1c13f48ef8158bfc9d" },
		{ "Jefe", 4, -1, "what do ya want for nothing?", 28, -1,
		    "750c783e6ab0b503eaa86e310a5db738" },
		{ NULL, 16, 0xaa, NULL, 50, 0xdd,
		    "56be34521d144c88dbb8c733f0e8b3f6" },
		{ "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
		    "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19", 25, -1,
		    NULL, 50, 0xcd, "697eaf0aca3a3aea3a75164746ffaa79" },
		{ NULL, 16, 0x0c, "Test With Truncation", 20, -1,
		    "56461ef2342edc00f9bab995690efd4c" },
		{ NULL, 80, 0xaa,
		    "Test Using Larger Than Block-Size Key - Hash Key First",
		    54, -1, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd" },
		{ NULL, 80, 0xaa,
		    "Test Using Larger Than Block-Size Key and Larger Than One "
		    "Block-Size Data", 73, -1,
		    "6f630fad67cda0ee1fb1f562db3aa53e" },
	};
	unsigned char key[80], msg[80], d[16];
	char hex[33], label[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(label, sizeof(label), "hmac-md5: RFC 2202 #%zu",
		    i + 1);
		TEST_START(label);
		if (cases[i].keyfill >= 0)
			memset(key, cases[i].keyfill, cases[i].keylen);
		else
			memcpy(key, cases[i].key, cases[i].keylen);
		if (cases[i].msgfill >= 0)
			memset(msg, cases[i].msgfill, cases[i].msglen);
		else
			memcpy(msg, cases[i].msg, cases[i].msglen);
		hmac_md5(key, cases[i].keylen, msg, cases[i].msglen, d);
		md5_hex(d, hex);
		ASSERT_STR_EQ(hex, cases[i].out);
		TEST_DONE();
	}
}

static void
test_apop(void)
{
	static const char ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	char secret[64], hex[33];
	struct satchel_md5 ctx;
	unsigned char d[16];

	TEST_START("apop: RFC 1939 example");
	ASSERT_INT_EQ(password_plain("{PLAIN}tanstaaf", secret,
	    sizeof(secret)), 1);
	md5_init(&ctx);
	md5_update(&ctx, ts, strlen(ts));
	md5_update(&ctx, secret, strlen(secret));
	md5_final(&ctx, d);
	md5_hex(d, hex);
	ASSERT_STR_EQ(hex, "c4c9334bac560ecc979e58001b3e22fb");
	TEST_DONE();
}

/*
 * Dovecot's own hashes: doveadm pw -s SCHEME -p PASS, run at test time
 * (Debian's dovecot-core).  Without doveadm these tests are reported as
 * skipped by name, not as passed.
 */
static int
doveadm_pw(const char *scheme, const char *pass, char *out, size_t outsz)
{
	int fds[2], status;
	size_t off = 0;
	ssize_t n;
	pid_t pid;

	if (access("/usr/bin/doveadm", X_OK) != 0 || pipe(fds) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		(void)dup2(fds[1], 1);
		close(fds[0]);
		execl("/usr/bin/doveadm", "doveadm", "-o",
		    "log_path=/dev/null", "pw", "-s", scheme, "-p", pass,
		    (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while (off + 1 < outsz && (n = read(fds[0], out + off,
	    outsz - 1 - off)) > 0)
		off += (size_t)n;
	close(fds[0]);
	out[off] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || out[0] != '{')
		return -1;
	return 0;
}

#define DOVE_PW		"p\xc3\xa4ss w:rd'\"$%\\"

static void
test_doveadm(void)
{
	static const char *const schemes[] = {
		"MD5-CRYPT", "MD5", "SHA", "SHA1", "SSHA", "SHA256", "SSHA256",
		"SHA512", "SSHA512", "SMD5", "PLAIN-MD5", "LDAP-MD5",
		"CRAM-MD5", "HMAC-MD5", "PBKDF2", "ARGON2I", "ARGON2ID",
		"SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "PLAIN", "CLEAR",
		"CLEARTEXT", "SCRAM-SHA-256", "SHA.HEX", "SHA256.HEX",
		"SSHA.HEX", "SSHA256.HEX", "SSHA512.HEX", "SMD5.HEX",
		"PLAIN-MD5.B64", "LDAP-MD5.HEX", "CRAM-MD5.B64", "PLAIN.B64",
		"PLAIN.HEX", "SHA512.HEX",
	};
	static const char *const pws[] = { PW, DOVE_PW };
	char stored[1024], bare[1024], label[160];
	size_t i, k;

	if (doveadm_pw("PLAIN", "x", stored, sizeof(stored)) == -1) {
		printf("skip doveadm: /usr/bin/doveadm not found or failing "
		    "(apt-get install dovecot-core); %zu schemes not "
		    "checked against Dovecot\n", sizeof(schemes) /
		    sizeof(schemes[0]));
		return;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		for (k = 0; k < 2; k++) {
			snprintf(label, sizeof(label), "doveadm pw -s %s, %s",
			    schemes[i], k == 0 ? "ASCII" :
			    "UTF-8 and metacharacters");
			TEST_START(label);
			if (doveadm_pw(schemes[i], pws[k], stored,
			    sizeof(stored)) == -1) {
				test_fail(__FILE__, __LINE__, "doveadm pw -s "
				    "%s failed", schemes[i]);
				TEST_DONE();
				continue;
			}
			ASSERT_INT_EQ(password_verify(stored, pws[k]), 1);
			ASSERT_INT_EQ(password_verify(stored, "wrong"), 0);
			ASSERT_INT_EQ(password_verify(stored, ""), 0);
			TEST_DONE();
		}

	TEST_START("doveadm: bare $1$ from MD5-CRYPT");
	ASSERT_INT_EQ(doveadm_pw("MD5-CRYPT", PW, stored, sizeof(stored)), 0);
	snprintf(bare, sizeof(bare), "%s", strchr(stored, '}') + 1);
	ASSERT_TRUE(strncmp(bare, "$1$", 3) == 0);
	ASSERT_INT_EQ(password_verify(bare, PW), 1);
	ASSERT_INT_EQ(password_verify(bare, PW "x"), 0);
	TEST_DONE();

	TEST_START("doveadm: bare $argon2id$ from ARGON2ID");
	ASSERT_INT_EQ(doveadm_pw("ARGON2ID", PW, stored, sizeof(stored)), 0);
	snprintf(bare, sizeof(bare), "%s", strchr(stored, '}') + 1);
	ASSERT_INT_EQ(password_verify(bare, PW), 1);
	ASSERT_INT_EQ(password_verify(bare, "x"), 0);
	TEST_DONE();
}

/* RFC 2195's example: tim / tanstaaftanstaaf. */
#define CRAM_CHAL	"<1896.697170952@postoffice.reston.mci.net>"
#define CRAM_PW		"tanstaaftanstaaf"
#define CRAM_ANSWER	"b913a602c7eda7a495b4e6e7334d3890"

static void
test_cram(void)
{
	struct hmac_md5_state st;
	unsigned char packed[32], digest[16], d2[16];
	char stored[1024], cred[256], hex[65];
	size_t i;

	TEST_START("cram: the HMAC state gives RFC 2195's answer");
	hmac_md5_state_init(CRAM_PW, strlen(CRAM_PW), &st);
	hmac_md5_state_final(&st, CRAM_CHAL, strlen(CRAM_CHAL), digest);
	hmac_md5(CRAM_PW, strlen(CRAM_PW), CRAM_CHAL, strlen(CRAM_CHAL), d2);
	ASSERT_MEM_EQ(digest, 16, d2, 16);
	md5_hex(digest, hex);
	ASSERT_STR_EQ(hex, CRAM_ANSWER);
	hmac_md5_state_pack(&st, packed);
	memset(&st, 0, sizeof(st));
	hmac_md5_state_unpack(packed, &st);
	hmac_md5_state_final(&st, CRAM_CHAL, strlen(CRAM_CHAL), digest);
	ASSERT_MEM_EQ(digest, 16, d2, 16);
	TEST_DONE();

	TEST_START("cram: {PLAIN} credential answers CRAM-MD5");
	ASSERT_INT_EQ(password_credential("{PLAIN}" CRAM_PW, cred,
	    sizeof(cred)), 1);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL, CRAM_ANSWER),
	    1);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL,
	    "B913A602C7EDA7A495B4E6E7334D3890"), 1);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL,
	    "b913a602c7eda7a495b4e6e7334d3891"), 0);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, "<other@x>",
	    CRAM_ANSWER), 0);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL, "b913"), 0);
	TEST_DONE();

	TEST_START("cram: {CRAM-MD5} stored state answers CRAM-MD5");
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", packed[i]);
	snprintf(stored, sizeof(stored), "{CRAM-MD5}%s", hex);
	ASSERT_INT_EQ(password_credential(stored, cred, sizeof(cred)), 1);
	ASSERT_STR_EQ(cred, stored);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL, CRAM_ANSWER),
	    1);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL,
	    "00000000000000000000000000000000"), 0);
	ASSERT_INT_EQ(password_verify(stored, CRAM_PW), 1);
	ASSERT_INT_EQ(password_verify(stored, "tanstaaf"), 0);
	ASSERT_INT_EQ(password_credential(stored, cred, 20), -1);
	TEST_DONE();

	TEST_START("cram: one-way hashes cannot serve CRAM-MD5");
	ASSERT_INT_EQ(password_cram_md5_verify(t_6, CRAM_CHAL, CRAM_ANSWER), 0);
	ASSERT_INT_EQ(password_credential(t_6, cred, sizeof(cred)), 0);
	ASSERT_INT_EQ(password_credential("{SHA}qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
	    cred, sizeof(cred)), 0);
	ASSERT_INT_EQ(password_cram_md5(t_6, "x", 1, digest), 0);
	ASSERT_INT_EQ(password_cram_md5("{CRAM-MD5}zz", "x", 1, digest), -1);
	TEST_DONE();

	if (doveadm_pw("CRAM-MD5", CRAM_PW, stored, sizeof(stored)) == -1) {
		printf("skip cram: doveadm not found (apt-get install "
		    "dovecot-core)\n");
		return;
	}
	TEST_START("cram: Dovecot's {CRAM-MD5} is our HMAC state");
	ASSERT_STR_EQ(stored + 10, hex);
	ASSERT_INT_EQ(password_credential(stored, cred, sizeof(cred)), 1);
	ASSERT_INT_EQ(password_cram_md5_verify(cred, CRAM_CHAL, CRAM_ANSWER),
	    1);
	ASSERT_INT_EQ(doveadm_pw("CRAM-MD5.B64", CRAM_PW, stored,
	    sizeof(stored)), 0);
	ASSERT_INT_EQ(password_credential(stored, cred, sizeof(cred)), 1);
	ASSERT_STR_EQ(cred + 10, hex);
	TEST_DONE();
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The least of three timings of a verification or of the dummy. */
static uint64_t
time_it(const char *stored)
{
	uint64_t t, best = UINT64_MAX;
	int i;

	for (i = 0; i < 3; i++) {
		t = now_ns();
		if (stored != NULL)
			(void)password_verify(stored, "not it");
		else
			password_dummy("not it");
		t = now_ns() - t;
		if (t < best)
			best = t;
	}
	return best;
}

static void
test_dummy(void)
{
	char slow[CRYPT_OUTPUT_SIZE + 32], h[CRYPT_OUTPUT_SIZE];
	char argon[1024];
	uint64_t tv, td;

	TEST_START("dummy: plaintext and digests teach nothing");
	ASSERT_INT_EQ(password_dummy_learn("{PLAIN}x"), -1);
	ASSERT_INT_EQ(password_dummy_learn("{SHA}qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
	    -1);
	ASSERT_INT_EQ(password_dummy_learn("{NOPE}x"), -1);
	TEST_DONE();

	/* SHA512-CRYPT at 200000 rounds: far slower than the default. */
	make_hash("$6$", 200000, h, sizeof(h));
	tag(slow, sizeof(slow), "SHA512-CRYPT", h);
	TEST_START("dummy: learns a slow scheme and costs what it costs");
	ASSERT_INT_EQ(password_dummy_learn(slow), 0);
	ASSERT_TRUE(password_dummy_cost_ns() > 0);
	tv = time_it(slow);
	td = time_it(NULL);
	printf("  SHA512-CRYPT rounds=200000: verify %.1f ms, dummy %.1f ms\n",
	    tv / 1e6, td / 1e6);
	/*
	 * What matters is that an unknown user is not cheaper than a real
	 * one (a timing oracle); a dearer dummy only costs CPU, and on a
	 * loaded machine the model may have learned a slower scheme from
	 * an earlier test, so there is no upper bound here.
	 */
	ASSERT_TRUE(td * 10 >= tv * 4);
	TEST_DONE();

	TEST_START("dummy: runs for an empty and a NULL password");
	password_dummy("");
	password_dummy(NULL);
	ASSERT_TRUE(password_dummy_cost_ns() > 0);
	TEST_DONE();

	if (doveadm_pw("ARGON2ID", PW, argon, sizeof(argon)) == -1) {
		printf("skip dummy argon2: doveadm not found\n");
		return;
	}
	TEST_START("dummy: a slower scheme verified replaces the model");
	tv = time_it(argon);
	td = time_it(NULL);
	printf("  ARGON2ID (doveadm default): verify %.1f ms, dummy %.1f ms\n",
	    tv / 1e6, td / 1e6);
	if (tv > time_it(slow) * 2)
		ASSERT_TRUE(td * 10 >= tv * 4 && td * 4 <= tv * 10);
	TEST_DONE();
}

int
main(void)
{
	setup();
	test_verify();
	test_plain();
	test_hash();
	test_md5();
	test_hmac();
	test_apop();
	test_cram();
	/* Before test_doveadm: the dummy's model is the slowest seen. */
	test_dummy();
	test_doveadm();
	return test_summary();
}
