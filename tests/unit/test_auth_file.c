/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_auth_file.c -- the "file" auth module, loaded by module_load()
 * from $SATCHEL_BUILDDIR/.libs/auth_file.so as the daemon would (through
 * the shared test_load_module()), with the real core (test_core())
 * and a config read by conf_load().
 */
#include <sys/stat.h>
#include <sys/time.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satchel/module.h"
#include "conf.h"
#include "core.h"
#include "module.h"
#include "password.h"
#include "test.h"
#include "compat/poison.h"

static const struct satchel_auth_ops *ops;
static struct module *loaded;	/* unloaded at the end of main */
static const struct satchel_core *core;
static char passwd[512], passwd_tmp[512], conf_path[512];

struct inst {
	struct config		*cf;
	struct satchel_conf	*sc;
	void			*ctx;
	int			 ret;
};

static void
load_module(void)
{
	const struct satchel_module *m;
	struct module *mod;

	TEST_START("module: module_load and descriptor");
	if ((mod = test_load_module("file", SATCHEL_MODULE_AUTH)) == NULL)
		exit(2);
	loaded = mod;
	m = mod->desc;
	ASSERT_INT_EQ(m->abi_major, SATCHEL_ABI_MAJOR);
	ASSERT_TRUE(m->abi_minor <= SATCHEL_ABI_MINOR);
	ASSERT_INT_EQ(m->kind, SATCHEL_MODULE_AUTH);
	ASSERT_INT_EQ(m->ops_size, sizeof(struct satchel_auth_ops));
	ASSERT_STR_EQ(m->name, "file");
	ASSERT_TRUE(m->version != NULL);
	ops = m->ops;
	ASSERT_TRUE(ops == mod->ops);
	ASSERT_TRUE(ops != NULL && ops->init != NULL && ops->verify != NULL &&
	    ops->lookup != NULL && ops->fini != NULL);
	ASSERT_TRUE(ops->postfork == NULL);
	/* Only the descriptor is exported. */
	ASSERT_TRUE(dlsym(mod->handle, "file_init") == NULL);
	ASSERT_TRUE(dlsym(mod->handle, "file_verify") == NULL);
	TEST_DONE();
	/* Never unloaded: the test ends with the module in use. */
}

static void
put(const char *path, const char *text)
{
	test_write_file(path, text, strlen(text));
}

/* Replace the passwd-file the way admins should: write, then rename. */
static void
replace(const char *text)
{
	put(passwd_tmp, text);
	if (rename(passwd_tmp, passwd) == -1) {
		perror("rename");
		exit(2);
	}
}

static struct inst
start(const char *section)
{
	struct inst in;
	char text[1024];

	memset(&in, 0, sizeof(in));
	snprintf(text, sizeof(text), "listen = 127.0.0.1:11110\n"
	    "auth = file\n\n[file]\n%s", section);
	put(conf_path, text);
	if ((in.cf = conf_load(conf_path)) == NULL ||
	    (in.sc = conf_section(in.cf, "file")) == NULL) {
		printf("conf_load %s failed\n", conf_path);
		exit(2);
	}
	in.ret = ops->init(core, in.sc, &in.ctx);
	return in;
}

static struct inst
start_path(const char *path)
{
	char sec[600];

	snprintf(sec, sizeof(sec), "path = %s\n", path);
	return start(sec);
}

static void
stop(struct inst *in)
{
	if (in->ret == 0)
		ops->fini(in->ctx);
	free(in->sc);
	conf_free(in->cf);
	memset(in, 0, sizeof(*in));
}

static int
verify(void *ctx, const char *user, const char *pw, struct satchel_user *u)
{
	struct satchel_auth_request req;
	struct satchel_user dummy;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.password = pw;
	req.remote_addr = "192.0.2.7";
	req.local_addr = "192.0.2.1";
	req.session = "0123456789abcdef";
	return ops->verify(ctx, &req, u != NULL ? u : &dummy);
}

static int
lookup(void *ctx, const char *user, char *secret, size_t sz,
    struct satchel_user *u)
{
	struct satchel_auth_request req;

	memset(&req, 0, sizeof(req));
	req.user = user;
	req.remote_addr = "192.0.2.7";
	req.session = "0123456789abcdef";
	return ops->lookup(ctx, &req, u, secret, sz);
}

static char h_demo[256], h_bob[256];
static char good[4096];

static void
make_good(void)
{
	int n;

	if (password_hash("YESCRYPT", "demopw", h_demo, sizeof(h_demo)) ||
	    password_hash("SHA512-CRYPT", "bobpw", h_bob, sizeof(h_bob)))
		exit(2);
	n = snprintf(good, sizeof(good),
	    "# Satchel test users\n"
	    "\n"
	    "   \t\n"
	    "alice:{PLAIN}alicepw:1001:1002:Alice A:/home/alice:/bin/sh:"
	    "mail=maildir:/var/vmail/%%d/%%n login_delay=30 "
	    "quota_rule=*:storage=1G\n"
	    "demo@example.org:%s::::::userdb_mail=mbox:/var/mail/demo "
	    "userdb_login_delay=5\n"
	    "bob:%s\n"
	    "carol:{PLAIN}carolpw:2000:2000::/home/carol::nologin\n"
	    "dave@Example.ORG:{PLAIN}davepw:0:0\r\n"
	    "broken:{UNKNOWN}zzz\n"
	    "nopw:\n"
	    "last:{clear}lastpw", h_demo, h_bob);
	if (n < 0 || (size_t)n >= sizeof(good))
		exit(2);
}

static void
test_basic(void)
{
	struct satchel_user u;
	struct inst in;
	char secret[64];

	replace(good);
	in = start_path(passwd);
	TEST_START("init: good file");
	ASSERT_INT_EQ(in.ret, 0);
	ASSERT_INT_EQ(in.cf->errors, 0);
	TEST_DONE();
	if (in.ret != 0)
		exit(1);

	TEST_START("verify: {PLAIN} ok, fields parsed");
	memset(&u, 0xa5, sizeof(u));
	ASSERT_INT_EQ(verify(in.ctx, "alice", "alicepw", &u), SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "alice");
	ASSERT_INT_EQ(u.uid, 1001);
	ASSERT_INT_EQ(u.gid, 1002);
	ASSERT_INT_EQ(u.uid_set, 1);
	ASSERT_INT_EQ(u.gid_set, 1);
	ASSERT_STR_EQ(u.home, "/home/alice");
	ASSERT_STR_EQ(u.mail, "maildir:/var/vmail/%d/%n");
	ASSERT_INT_EQ(u.login_delay, 30);
	TEST_DONE();

	TEST_START("verify: wrong password");
	ASSERT_INT_EQ(verify(in.ctx, "alice", "alicepW", NULL),
	    SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(verify(in.ctx, "alice", "", NULL), SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(verify(in.ctx, "bob", "alicepw", NULL),
	    SATCHEL_AUTH_FAIL);
	TEST_DONE();

	TEST_START("verify: unknown user is NOUSER");
	ASSERT_INT_EQ(verify(in.ctx, "zed", "alicepw", NULL),
	    SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(verify(in.ctx, "Alice", "alicepw", NULL),
	    SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(verify(in.ctx, "alice@example.org", "alicepw", NULL),
	    SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(verify(in.ctx, "", "x", NULL), SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(verify(in.ctx, "# Satchel test users", "x", NULL),
	    SATCHEL_AUTH_NOUSER);
	TEST_DONE();

	TEST_START("verify: yescrypt user, empty uid/gid, userdb_ fields");
	memset(&u, 0xa5, sizeof(u));
	ASSERT_INT_EQ(verify(in.ctx, "demo@example.org", "demopw", &u),
	    SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "demo@example.org");
	ASSERT_INT_EQ(u.uid_set, 0);
	ASSERT_INT_EQ(u.gid_set, 0);
	ASSERT_STR_EQ(u.home, "");
	ASSERT_STR_EQ(u.mail, "mbox:/var/mail/demo");
	ASSERT_INT_EQ(u.login_delay, 5);
	ASSERT_INT_EQ(verify(in.ctx, "demo@example.org", "demopW", NULL),
	    SATCHEL_AUTH_FAIL);
	TEST_DONE();

	TEST_START("verify: domain part is case-insensitive, local part not");
	ASSERT_INT_EQ(verify(in.ctx, "demo@EXAMPLE.org", "demopw", &u),
	    SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "demo@example.org");
	ASSERT_INT_EQ(verify(in.ctx, "Demo@example.org", "demopw", NULL),
	    SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(verify(in.ctx, "dave@example.org", "davepw", &u),
	    SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "dave@Example.ORG");	/* canonical */
	ASSERT_INT_EQ(u.uid, 0);
	ASSERT_INT_EQ(u.uid_set, 1);
	TEST_DONE();

	TEST_START("verify: sha512-crypt, short line, CRLF, last line");
	ASSERT_INT_EQ(verify(in.ctx, "bob", "bobpw", &u), SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "bob");
	ASSERT_STR_EQ(u.home, "");
	ASSERT_STR_EQ(u.mail, "");
	ASSERT_INT_EQ(u.uid_set, 0);
	ASSERT_INT_EQ(verify(in.ctx, "last", "lastpw", NULL),
	    SATCHEL_AUTH_OK);
	TEST_DONE();

	TEST_START("verify: nologin refuses the right password");
	ASSERT_INT_EQ(verify(in.ctx, "carol", "carolpw", NULL),
	    SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(verify(in.ctx, "carol", "wrong", NULL),
	    SATCHEL_AUTH_FAIL);
	TEST_DONE();

	TEST_START("verify: unusable stored value is ERROR");
	ASSERT_INT_EQ(verify(in.ctx, "broken", "zzz", NULL),
	    SATCHEL_AUTH_ERROR);
	ASSERT_INT_EQ(verify(in.ctx, "nopw", "", NULL), SATCHEL_AUTH_ERROR);
	TEST_DONE();

	TEST_START("lookup: {PLAIN} gives the tagged secret, hashes FAIL");
	memset(&u, 0xa5, sizeof(u));
	ASSERT_INT_EQ(lookup(in.ctx, "alice", secret, sizeof(secret), &u),
	    SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(secret, "{PLAIN}alicepw");
	ASSERT_STR_EQ(u.name, "alice");
	ASSERT_STR_EQ(u.home, "/home/alice");
	ASSERT_INT_EQ(lookup(in.ctx, "last", secret, sizeof(secret), &u),
	    SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(secret, "{PLAIN}lastpw");
	ASSERT_INT_EQ(lookup(in.ctx, "bob", secret, sizeof(secret), &u),
	    SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(lookup(in.ctx, "demo@example.org", secret,
	    sizeof(secret), &u), SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(lookup(in.ctx, "zed", secret, sizeof(secret), &u),
	    SATCHEL_AUTH_NOUSER);
	ASSERT_INT_EQ(lookup(in.ctx, "carol", secret, sizeof(secret), &u),
	    SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(lookup(in.ctx, "alice", secret, 4, &u),
	    SATCHEL_AUTH_ERROR);
	TEST_DONE();

	stop(&in);
}

static void
test_init_errors(void)
{
	static const struct {
		const char	*label;
		const char	*line;
	} bad[] = {
		{ "no colon",		"bad line without colon\n" },
		{ "empty user",		":{PLAIN}x\n" },
		{ "space in user",	"a b:{PLAIN}x\n" },
		{ "uid not a number",	"eve:{PLAIN}x:12a\n" },
		{ "negative gid",	"eve:{PLAIN}x:1:-1\n" },
		{ "uid too large",	"eve:{PLAIN}x:4294967295\n" },
		{ "relative home",	"eve:{PLAIN}x:1:1::home/eve\n" },
		{ "bad login_delay",	"eve:{PLAIN}x:::::"
					    ":login_delay=soon\n" },
		{ "empty mail",		"eve:{PLAIN}x:::::: mail=\n" },
		{ "duplicate user",	"alice:{PLAIN}again\n" },
		{ "duplicate by domain case", "dave@example.org:{PLAIN}x\n" },
		{ "NUL byte",		"eve:{PLAIN}x\0y\n" },
	};
	char text[8192], label[96];
	struct inst in;
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(label, sizeof(label), "init: malformed line (%s) is "
		    "a config error", bad[i].label);
		TEST_START(label);
		len = strlen(good);
		memcpy(text, good, len);
		text[len++] = '\n';
		/* Lines are written with their length: one holds a NUL. */
		if (strcmp(bad[i].label, "NUL byte") == 0) {
			memcpy(text + len, bad[i].line, 15);
			len += 15;
		} else {
			memcpy(text + len, bad[i].line, strlen(bad[i].line));
			len += strlen(bad[i].line);
		}
		test_write_file(passwd, text, len);
		in = start_path(passwd);
		ASSERT_INT_EQ(in.ret, -1);
		ASSERT_TRUE(in.cf->errors > 0);
		stop(&in);
		TEST_DONE();
	}

	TEST_START("init: missing file, missing key, relative path");
	in = start_path("/nonexistent/satchel/passwd");
	ASSERT_INT_EQ(in.ret, -1);
	ASSERT_TRUE(in.cf->errors > 0);
	stop(&in);
	in = start("");
	ASSERT_INT_EQ(in.ret, -1);
	ASSERT_TRUE(in.cf->errors > 0);
	stop(&in);
	in = start_path("passwd");
	ASSERT_INT_EQ(in.ret, -1);
	stop(&in);
	in = start_path(test_tmpdir());		/* a directory */
	ASSERT_INT_EQ(in.ret, -1);
	stop(&in);
	TEST_DONE();

	TEST_START("init: world-readable file only warns");
	replace(good);
	chmod(passwd, 0644);
	in = start_path(passwd);
	ASSERT_INT_EQ(in.ret, 0);
	ASSERT_INT_EQ(in.cf->errors, 0);
	stop(&in);
	chmod(passwd, 0600);
	TEST_DONE();
}

static void
test_reload(void)
{
	struct timespec ts = { 0, 30 * 1000 * 1000 };
	struct satchel_user u;
	struct inst in;
	char text[8192];

	replace(good);
	in = start_path(passwd);
	if (in.ret != 0)
		exit(1);

	TEST_START("reload: new file replaces the table");
	ASSERT_INT_EQ(verify(in.ctx, "alice", "alicepw", NULL),
	    SATCHEL_AUTH_OK);
	replace("alice:{PLAIN}newpw:1:1\nzoe:{PLAIN}zoepw\n");
	ASSERT_INT_EQ(verify(in.ctx, "alice", "newpw", &u), SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(u.uid, 1);
	ASSERT_INT_EQ(verify(in.ctx, "alice", "alicepw", NULL),
	    SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "zoepw", NULL), SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(verify(in.ctx, "bob", "bobpw", NULL),
	    SATCHEL_AUTH_NOUSER);
	TEST_DONE();

	TEST_START("reload: same file rewritten in place, same size");
	nanosleep(&ts, NULL);	/* let the clock tick past the last write */
	put(passwd, "alice:{PLAIN}nexpw:1:1\nzoe:{PLAIN}zoepw\n");
	ASSERT_INT_EQ(verify(in.ctx, "alice", "nexpw", NULL),
	    SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(verify(in.ctx, "alice", "newpw", NULL),
	    SATCHEL_AUTH_FAIL);
	TEST_DONE();

	TEST_START("reload: malformed lines are skipped at run time");
	snprintf(text, sizeof(text), "no colon here\n"
	    "alice:{PLAIN}third:x\n"
	    "zoe:{PLAIN}zoe2\n"
	    "bad user:{PLAIN}x\n"
	    "zoe:{PLAIN}dup\n"
	    "yan:{PLAIN}yanpw:5:5::/home/yan\n");
	replace(text);
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "zoe2", NULL), SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "dup", NULL), SATCHEL_AUTH_FAIL);
	ASSERT_INT_EQ(verify(in.ctx, "yan", "yanpw", &u), SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.home, "/home/yan");
	ASSERT_INT_EQ(verify(in.ctx, "alice", "third", NULL),
	    SATCHEL_AUTH_NOUSER);
	TEST_DONE();

	TEST_START("reload: unreadable replacement keeps the old table");
	if (rename(passwd, passwd_tmp) == -1 || mkdir(passwd, 0700) == -1) {
		perror("swap in a directory");
		exit(2);
	}
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "zoe2", NULL), SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(verify(in.ctx, "yan", "yanpw", NULL), SATCHEL_AUTH_OK);
	if (rmdir(passwd) == -1) {
		perror("rmdir");
		exit(2);
	}
	/* Gone altogether: still the old table. */
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "zoe2", NULL), SATCHEL_AUTH_OK);
	replace("zoe:{PLAIN}zoe3\n");
	ASSERT_INT_EQ(verify(in.ctx, "zoe", "zoe3", NULL), SATCHEL_AUTH_OK);
	ASSERT_INT_EQ(verify(in.ctx, "yan", "yanpw", NULL),
	    SATCHEL_AUTH_NOUSER);
	TEST_DONE();

	TEST_START("reload: lookup() sees the new file too");
	replace("zoe:{PLAIN}zoe4\n");
	{
		char secret[32];

		ASSERT_INT_EQ(lookup(in.ctx, "zoe", secret, sizeof(secret),
		    &u), SATCHEL_AUTH_OK);
		ASSERT_STR_EQ(secret, "{PLAIN}zoe4");
	}
	TEST_DONE();

	stop(&in);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_big(void)
{
	const size_t n = 100000;
	struct satchel_user u;
	struct inst in;
	char *text, user[64], pw[64];
	size_t i, off = 0, cap = n * 96;
	double t0, t1;
	int k;

	if ((text = malloc(cap)) == NULL)
		exit(2);
	for (i = 0; i < n; i++) {
		k = snprintf(text + off, cap - off, "user%06zu@Example.NET:"
		    "{PLAIN}pw%06zu:%zu:%zu::/home/u%zu\n", i, i, 10000 + i,
		    10000 + i, i);
		if (k < 0 || (size_t)k >= cap - off)
			exit(2);
		off += (size_t)k;
	}
	test_write_file(passwd_tmp, text, off);
	free(text);
	if (rename(passwd_tmp, passwd) == -1)
		exit(2);

	TEST_START("big: 100000 users load and look up");
	t0 = now();
	in = start_path(passwd);
	t1 = now();
	ASSERT_INT_EQ(in.ret, 0);
	if (in.ret != 0)
		exit(1);
	printf("  (load: %.3f s)\n", t1 - t0);
	ASSERT_TRUE(t1 - t0 < 5.0);
	ASSERT_INT_EQ(verify(in.ctx, "user000000@example.net", "pw000000",
	    &u), SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.name, "user000000@Example.NET");
	ASSERT_INT_EQ(u.uid, 10000);
	ASSERT_INT_EQ(verify(in.ctx, "user099999@example.net", "pw099999",
	    &u), SATCHEL_AUTH_OK);
	ASSERT_STR_EQ(u.home, "/home/u99999");
	ASSERT_INT_EQ(verify(in.ctx, "user100000@example.net", "pw100000",
	    NULL), SATCHEL_AUTH_NOUSER);
	t0 = now();
	for (i = 0; i < n; i += 7) {
		snprintf(user, sizeof(user), "user%06zu@example.net", i);
		snprintf(pw, sizeof(pw), "pw%06zu", i);
		if (verify(in.ctx, user, pw, NULL) != SATCHEL_AUTH_OK) {
			ASSERT_STR_EQ(user, "(verified)");
			break;
		}
		if (verify(in.ctx, user, "x", NULL) != SATCHEL_AUTH_FAIL) {
			ASSERT_STR_EQ(user, "(refused)");
			break;
		}
	}
	t1 = now();
	printf("  (%zu verifications: %.3f s)\n", 2 * (n / 7), t1 - t0);
	ASSERT_TRUE(t1 - t0 < 10.0);
	TEST_DONE();
	stop(&in);
}

/*
 * An unknown user must cost what a wrong password costs: the module runs
 * a hash of the file's usual scheme.  A loose bound, to stay reliable on
 * a loaded machine.
 */
static void
test_timing(void)
{
	char text[2048], h[256];
	struct inst in;
	double t0, t1, t2;
	size_t off = 0, i;
	int k;

	for (i = 0; i < 3; i++) {
		if (password_hash("YESCRYPT", "pw", h, sizeof(h)) == -1)
			exit(2);
		k = snprintf(text + off, sizeof(text) - off, "u%zu:%s\n", i,
		    h);
		if (k < 0 || (size_t)k >= sizeof(text) - off)
			exit(2);
		off += (size_t)k;
	}
	text[off] = '\0';
	replace(text);
	in = start_path(passwd);
	TEST_START("timing: unknown user costs a hash");
	ASSERT_INT_EQ(in.ret, 0);
	t0 = now();
	for (i = 0; i < 3; i++)
		ASSERT_INT_EQ(verify(in.ctx, "u1", "wrong", NULL),
		    SATCHEL_AUTH_FAIL);
	t1 = now();
	for (i = 0; i < 3; i++)
		ASSERT_INT_EQ(verify(in.ctx, "nobody", "wrong", NULL),
		    SATCHEL_AUTH_NOUSER);
	t2 = now();
	printf("  (wrong password %.1f ms, unknown user %.1f ms)\n",
	    (t1 - t0) * 1000 / 3, (t2 - t1) * 1000 / 3);
	ASSERT_TRUE(t2 - t1 > (t1 - t0) * 0.3);
	TEST_DONE();
	stop(&in);
}

int
main(void)
{
	const char *tmp = test_tmpdir();

	snprintf(passwd, sizeof(passwd), "%s/passwd", tmp);
	snprintf(passwd_tmp, sizeof(passwd_tmp), "%s/passwd.new", tmp);
	snprintf(conf_path, sizeof(conf_path), "%s/satchel.conf", tmp);
	core = test_core();
	core_set_module_name("file");
	load_module();
	make_good();
	test_basic();
	test_init_errors();
	test_reload();
	test_big();
	test_timing();
	module_unload(loaded);
	return test_summary();
}
