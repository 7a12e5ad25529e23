/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_module.c -- the module loader's refusals (daemon/module.c).  It
 * compiles tiny modules from one C snippet with $SATCHEL_CC at test
 * time, each with one thing wrong (owner, mode, ABI major, newer minor,
 * kind, short ops table, name, incomplete ops, no symbol, a second
 * module of the same name), and asserts that module_load() or
 * module_add() refuses it with the log line naming the reason.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "module.h"
#include "test.h"

static char moddir[1024];

/* One source for every case: -D options break one thing each. */
static const char snippet[] =
"#include \"satchel/module.h\"\n"
"#ifndef ABI_MAJOR\n#define ABI_MAJOR SATCHEL_ABI_MAJOR\n#endif\n"
"#ifndef ABI_MINOR\n#define ABI_MINOR SATCHEL_ABI_MINOR\n#endif\n"
"#ifndef KIND\n#define KIND SATCHEL_MODULE_STORAGE\n#endif\n"
"#ifndef OPS_SIZE\n#define OPS_SIZE sizeof(ops)\n#endif\n"
"#ifndef OPEN\n#define OPEN t_open\n#endif\n"
"#ifdef FORCE_NAME\n#undef NAME\n#define NAME FORCE_NAME\n#endif\n"
"static int t_init(const struct satchel_core *c,\n"
"    const struct satchel_conf *f, void **r) { (void)c; (void)f;\n"
"    *r = 0; return 0; }\n"
"static int t_open(void *c, const struct satchel_mailbox_ref *r,\n"
"    void **m, const char **e) { (void)c; (void)r; (void)m; (void)e;\n"
"    return SATCHEL_MBOX_ERROR; }\n"
"static size_t t_count(void *m) { (void)m; return 0; }\n"
"static int t_info(void *m, size_t n, struct satchel_msginfo *i)\n"
"    { (void)m; (void)n; (void)i; return -1; }\n"
"static int t_message(void *m, size_t n, struct satchel_msgref *r,\n"
"    const char **e) { (void)m; (void)n; (void)r; (void)e; return -1; }\n"
"static int t_commit(void *m, const unsigned char *k, size_t n,\n"
"    const char **e) { (void)m; (void)k; (void)n; (void)e; return -1; }\n"
"static void t_close(void *m) { (void)m; }\n"
"static const struct satchel_storage_ops ops = {\n"
"    .init = t_init, .open = OPEN, .count = t_count, .info = t_info,\n"
"    .message = t_message, .commit = t_commit, .close = t_close };\n"
"#ifndef NO_SYMBOL\n"
"SATCHEL_EXPORT const struct satchel_module satchel_module = {\n"
"    .abi_major = ABI_MAJOR, .abi_minor = ABI_MINOR, .kind = KIND,\n"
"    .ops_size = OPS_SIZE, .name = NAME, .version = \"test\",\n"
"    .ops = &ops };\n"
"#endif\n";

struct bad {
	const char	*name;		/* storage_<name>.so */
	const char	*defs;		/* -D options */
	mode_t		 mode;
	uid_t		 owner;		/* chown to it when not 0 */
	const char	*log;		/* what the refusal says */
};

static const struct bad bads[] = {
	{ "owner", "", 0755, 4321, "refused: owned by uid 4321, not root" },
	{ "gwrite", "", 0775, 0, "refused: writable by group or others" },
	{ "owrite", "", 0757, 0, "refused: writable by group or others" },
	{ "major", "-DABI_MAJOR=2", 0755, 0,
	  "refused: built for module ABI 2." },
	{ "minor", "-DABI_MINOR=SATCHEL_ABI_MINOR+1", 0755, 0,
	  "refused: built for module ABI 1." },
	{ "kind", "-DKIND=SATCHEL_MODULE_AUTH", 0755, 0,
	  "refused: not a storage module" },
	{ "short", "-DOPS_SIZE=8", 0755, 0,
	  "refused: ops table of 8 bytes" },
	{ "named", "-DFORCE_NAME='\"other\"'", 0755, 0,
	  "refused: named 'other', not 'named'" },
	{ "noopen", "-DOPEN=0", 0755, 0, "refused: incomplete ops" },
	{ "nosym", "-DNO_SYMBOL", 0755, 0, "no symbol satchel_module" },
};

/* Compile the snippet into moddir/storage_<name>.so. */
static int
build(const char *name, const char *defs, mode_t mode, uid_t owner)
{
	char src[1200], so[1200], cmd[4096];
	const char *cc = getenv("SATCHEL_CC"), *top = getenv("SATCHEL_SRCDIR");
	int n;

	snprintf(src, sizeof(src), "%s/t.c", moddir);
	snprintf(so, sizeof(so), "%s/storage_%s.so", moddir, name);
	test_write_file(src, snippet, sizeof(snippet) - 1);
	n = snprintf(cmd, sizeof(cmd), "%s -shared -fPIC -fvisibility=hidden "
	    "-I'%s/include' -DNAME='\"%s\"' %s -o '%s' '%s'",
	    cc != NULL ? cc : "cc", top != NULL ? top : ".", name, defs, so,
	    src);
	if (n < 0 || (size_t)n >= sizeof(cmd) || system(cmd) != 0) {
		test_fail(__FILE__, __LINE__, "cannot build: %s", cmd);
		return -1;
	}
	if (chmod(so, mode) == -1 || (owner != 0 && chown(so, owner,
	    (gid_t)-1) == -1)) {
		test_fail(__FILE__, __LINE__, "chmod/chown %s: %s", so,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * module_load(name) with stderr (the log, in the foreground) caught;
 * the log text goes to logbuf.
 */
static struct module *
load_caught(const char *name, char *logbuf, size_t sz)
{
	char path[1200];
	struct module *m;
	ssize_t r;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/log", moddir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (saved == -1 || fd == -1 || dup2(fd, 2) == -1)
		exit(2);
	m = module_load(moddir, name, SATCHEL_MODULE_STORAGE);
	fflush(stderr);
	(void)dup2(saved, 2);
	close(saved);
	r = pread(fd, logbuf, sz - 1, 0);
	logbuf[r > 0 ? r : 0] = '\0';
	close(fd);
	fputs(logbuf, stderr);
	return m;
}

int
main(void)
{
	char label[128], logbuf[4096];
	struct module *m, *m2, *list = NULL;
	size_t i;

	TEST_START("loader test: a good module loads");
	snprintf(moddir, sizeof(moddir), "%s/mods", test_tmpdir());
	if (mkdir(moddir, 0755) == -1)
		exit(2);
	(void)test_core();
	m = NULL;
	if (build("good", "", 0755, 0) == 0) {
		m = load_caught("good", logbuf, sizeof(logbuf));
		ASSERT_TRUE(m != NULL);
	}
	TEST_DONE();

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(label, sizeof(label), "loader refuses storage_%s.so",
		    bads[i].name);
		TEST_START(label);
		if (bads[i].owner != 0 && geteuid() != 0) {
			TEST_SKIP("chown needs root");
			TEST_DONE();
			continue;
		}
		if (build(bads[i].name, bads[i].defs, bads[i].mode,
		    bads[i].owner) == 0) {
			m2 = load_caught(bads[i].name, logbuf, sizeof(logbuf));
			ASSERT_TRUE(m2 == NULL);
			if (strstr(logbuf, bads[i].log) == NULL)
				test_fail(__FILE__, __LINE__, "log \"%s\" lacks "
				    "\"%s\"", logbuf, bads[i].log);
			if (strstr(logbuf, bads[i].name) == NULL)
				test_fail(__FILE__, __LINE__, "log \"%s\" does "
				    "not name the file", logbuf);
			module_unload(m2);
		}
		TEST_DONE();
	}

	TEST_START("a second module of the same name is refused");
	if (m != NULL) {
		ASSERT_INT_EQ(module_add(&list, m), 0);
		m2 = load_caught("good", logbuf, sizeof(logbuf));
		ASSERT_TRUE(m2 != NULL);
		if (m2 != NULL) {
			fflush(stderr);
			ASSERT_INT_EQ(module_add(&list, m2), -1);
			ASSERT_TRUE(list == m && m->next == NULL);
			module_unload(m2);
		}
		module_unload(m);
	}
	TEST_DONE();
	return test_summary();
}
