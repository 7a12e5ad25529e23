/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_maildir.c -- the maildir storage module, loaded with dlopen from
 * $SATCHEL_BUILDDIR/.libs/storage_maildir.so and driven with the real
 * core: odd names, sizes, UIDs, the session lock, messages renamed or
 * deleted under us, commit, the size cache, a 100,000-message maildir,
 * and the dotlock and lock timeouts behind core->lock_*.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <dirent.h>
#include <grp.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "satchel/module.h"
#include "module.h"
#include "test.h"
#include "compat/poison.h"

static const struct satchel_storage_ops *ops;
static const struct satchel_core *core;
static void *ctx;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
mkpath(char *buf, size_t sz, const char *a, const char *b, const char *c)
{
	int n;

	n = snprintf(buf, sz, "%s%s%s%s%s", a, b ? "/" : "", b ? b : "",
	    c ? "/" : "", c ? c : "");
	if (n < 0 || (size_t)n >= sz) {
		fprintf(stderr, "path too long\n");
		exit(2);
	}
}

static void
put(const char *md, const char *sub, const char *name, const char *data)
{
	char p[1024];

	mkpath(p, sizeof(p), md, sub, name);
	test_write_file(p, data, strlen(data));
}

static int
exists(const char *md, const char *sub, const char *name)
{
	char p[1024];
	struct stat st;

	mkpath(p, sizeof(p), md, sub, name);
	return lstat(p, &st) == 0;
}

/* A new empty maildir under the test directory. */
static void
new_maildir(char *md, size_t sz, const char *label)
{
	char p[1024];
	static const char *subs[] = { "cur", "new", "tmp" };
	size_t i;

	mkpath(md, sz, test_tmpdir(), label, NULL);
	if (mkdir(md, 0700) == -1) {
		perror(md);
		exit(2);
	}
	for (i = 0; i < 3; i++) {
		mkpath(p, sizeof(p), md, subs[i], NULL);
		if (mkdir(p, 0700) == -1) {
			perror(p);
			exit(2);
		}
	}
}

/* RFC 1939 size: bare LFs become CRLF, a last unfinished line gets one. */
static uint64_t
ref_size(const char *s)
{
	size_t i, len = strlen(s);
	uint64_t n = len;

	for (i = 0; i < len; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			n++;
	/* No final newline: RETR adds CRLF, the size does not count it
	 * (Dovecot's, popa3d's). */
	return n;
}

static int
mb_open(const char *path, void **mb, const char **err)
{
	struct satchel_mailbox_ref ref;

	memset(&ref, 0, sizeof(ref));
	ref.driver = "maildir";
	ref.path = path;
	ref.user = "tester";
	*err = NULL;
	return ops->open(ctx, &ref, mb, err);
}

static const char *
uid_of(void *mb, size_t n)
{
	static struct satchel_msginfo info;

	memset(&info, 0, sizeof(info));
	if (ops->info(mb, n, &info) != 0)
		return "(info failed)";
	return info.uid;
}

static uint64_t
size_of(void *mb, size_t n)
{
	struct satchel_msginfo info;

	if (ops->info(mb, n, &info) != 0)
		return UINT64_MAX;
	return info.size;
}

/* Read message n into buf; returns message()'s result, length in *len. */
static int
read_msg(void *mb, size_t n, char *buf, size_t sz, size_t *len)
{
	struct satchel_msgref ref;
	const char *err = NULL;
	ssize_t r;
	int rc;

	*len = 0;
	if ((rc = ops->message(mb, n, &ref, &err)) != 0)
		return rc;
	if (ref.offset != 0 || ref.flags != 0)
		rc = -2;
	while (*len < sz && (r = read(ref.fd, buf + *len, sz - *len)) > 0)
		*len += (size_t)r;
	if (*len != ref.length)
		rc = -3;
	close(ref.fd);
	return rc;
}

static int
is_hex32(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 32;
}

static void
test_create(void)
{
	char md[1024], p[1024];
	const char *err;
	void *mb = NULL;
	struct stat st;

	TEST_START("missing maildir is created, parents too");
	mkpath(md, sizeof(md), test_tmpdir(), "a/b/Maildir", NULL);
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	ASSERT_TRUE(mb != NULL);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 0);
		ops->close(mb);
	}
	mkpath(p, sizeof(p), md, "cur", NULL);
	ASSERT_INT_EQ(stat(p, &st), 0);
	ASSERT_INT_EQ(st.st_mode & 0777, 0700);
	ASSERT_TRUE(exists(md, "new", NULL));
	ASSERT_TRUE(exists(md, "tmp", NULL));
	ASSERT_TRUE(exists(md, ".satchel.lock", NULL));
	TEST_DONE();

	TEST_START("relative path refused");
	mb = NULL;
	ASSERT_INT_EQ(mb_open("rel/Maildir", &mb, &err), SATCHEL_MBOX_ERROR);
	ASSERT_TRUE(mb == NULL);
	ASSERT_TRUE(err != NULL);
	TEST_DONE();
}

static const struct {
	const char	*sub;
	const char	*name;
	const char	*data;
	const char	*uid;		/* NULL: a 32-hex hash */
	uint64_t	 size;		/* 0: ref_size(data) */
} odd[] = {
	/* in expected order: leading number, unique part, name */
	{ "cur", "abc:2,S", "no number\n", "abc", 0 },
	{ "new", "1000.M1P1.host", "a\nb\n", "1000.M1P1.host", 0 },
	{ "cur", "1001.M2P2.host,S=10,W=12:2,S", "abcd\nefgh\n",
	    "1001.M2P2.host", 12 },
	{ "cur", "1001.M2P2.hosu,W=99", "W= wins\n", "1001.M2P2.hosu", 99 },
	{ "cur", "1002.M3P3.host:2,FS", "x\r\ny\n\n", "1002.M3P3.host", 0 },
	{ "cur", "1003.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxx:2,", "long\n", NULL, 0 },
	{ "new", "1004.odd\x7f" "byte", "odd\n", NULL, 0 },
	{ "new", "1005.nonl", "no final newline", "1005.nonl", 0 },
	{ "new", "1006.crlf", "a\r\nb\r\n", "1006.crlf", 0 },
};
#define NODD	(sizeof(odd) / sizeof(odd[0]))

static void
test_odd_names(void)
{
	char md[1024], p[1024], buf[256], hashes[2][SATCHEL_UID_MAX + 1];
	const char *err;
	void *mb = NULL;
	size_t i, len;

	new_maildir(md, sizeof(md), "odd");
	for (i = 0; i < NODD; i++)
		put(md, odd[i].sub, odd[i].name, odd[i].data);
	/* Not messages: dot files, tmp/, directories, symlinks. */
	put(md, "cur", ".hidden", "x\n");
	put(md, "new", ".also,W=3", "x\n");
	put(md, "tmp", "999.tmp", "x\n");
	mkpath(p, sizeof(p), md, "cur", "500.dir");
	ASSERT_INT_EQ(mkdir(p, 0700), 0);
	mkpath(p, sizeof(p), md, "cur", "501.link");
	ASSERT_INT_EQ(symlink("1002.M3P3.host:2,FS", p), 0);

	TEST_START("odd names: count, order, UIDs, sizes");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb == NULL) {
		TEST_DONE();
		return;
	}
	ASSERT_INT_EQ(ops->count(mb), NODD);
	for (i = 0; i < NODD && i < ops->count(mb); i++) {
		if (odd[i].uid != NULL)
			ASSERT_STR_EQ(uid_of(mb, i), odd[i].uid);
		else
			ASSERT_TRUE(is_hex32(uid_of(mb, i)));
		ASSERT_U64_EQ(size_of(mb, i),
		    odd[i].size ? odd[i].size : ref_size(odd[i].data));
	}
	ASSERT_INT_EQ(ops->info(mb, NODD, (struct satchel_msginfo *)buf), -1);
	memcpy(hashes[0], uid_of(mb, 5), sizeof(hashes[0]));
	memcpy(hashes[1], uid_of(mb, 6), sizeof(hashes[1]));
	ASSERT_TRUE(strcmp(hashes[0], hashes[1]) != 0);
	TEST_DONE();

	TEST_START("message() returns the stored bytes");
	for (i = 0; i < NODD; i++) {
		ASSERT_INT_EQ(read_msg(mb, i, buf, sizeof(buf), &len), 0);
		ASSERT_MEM_EQ(buf, len, odd[i].data, strlen(odd[i].data));
	}
	ASSERT_INT_EQ(read_msg(mb, NODD, buf, sizeof(buf), &len), -1);
	TEST_DONE();

	TEST_START("hashed UIDs are stable across sessions");
	ops->close(mb);
	mb = NULL;
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_STR_EQ(uid_of(mb, 5), hashes[0]);
		ASSERT_STR_EQ(uid_of(mb, 6), hashes[1]);
		ops->close(mb);
	}
	TEST_DONE();
}

static void
test_duplicates(void)
{
	char md[1024], uids[5][SATCHEL_UID_MAX + 1], name[128];
	const char *err;
	void *mb = NULL;
	size_t i, j;

	TEST_START("duplicate unique parts get distinct UIDs");
	new_maildir(md, sizeof(md), "dup");
	put(md, "cur", "2000.dup:2,S", "one\n");
	put(md, "new", "2000.dup", "two\n");
	put(md, "new", "2000.dup-2", "real name\n");
	put(md, "cur", "2001.x,S=3:2,", "abc");
	put(md, "new", "2001.x", "abc");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb == NULL) {
		TEST_DONE();
		return;
	}
	ASSERT_INT_EQ(ops->count(mb), 5);
	for (i = 0; i < 5; i++)
		memcpy(uids[i], uid_of(mb, i), sizeof(uids[i]));
	/* Order: unique part, then name; new/ before cur/ on a tie. */
	ASSERT_STR_EQ(uids[0], "2000.dup");		/* new/2000.dup */
	ASSERT_STR_EQ(uids[1], "2000.dup-2");	/* cur/2000.dup:2,S */
	ASSERT_STR_EQ(uids[2], "2000.dup-2-2");	/* new/2000.dup-2 */
	ASSERT_STR_EQ(uids[3], "2001.x");
	ASSERT_STR_EQ(uids[4], "2001.x-2");
	for (i = 0; i < 5; i++)
		for (j = i + 1; j < 5; j++)
			ASSERT_TRUE(strcmp(uids[i], uids[j]) != 0);
	ops->close(mb);
	TEST_DONE();

	TEST_START("a duplicate of a 70-octet UID stays within the limit");
	new_maildir(md, sizeof(md), "dup70");
	memset(name, 'u', 70);
	memcpy(name, "2100.", 5);
	name[70] = '\0';
	put(md, "new", name, "one\n");
	memcpy(name + 70, ":2,S", 5);
	put(md, "cur", name, "two\n");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 2);
		name[70] = '\0';
		ASSERT_STR_EQ(uid_of(mb, 0), name);
		memcpy(uids[0], uid_of(mb, 1), sizeof(uids[0]));
		ASSERT_INT_EQ(strlen(uids[0]), 34);
		ASSERT_TRUE(strcmp(uids[0] + 32, "-2") == 0);
		uids[0][32] = '\0';
		ASSERT_TRUE(is_hex32(uids[0]));
		ops->close(mb);
	}
	TEST_DONE();
}

static void
test_inuse(void)
{
	char md[1024];
	const char *err;
	void *mb = NULL, *mb2;
	pid_t pid;
	int status, rc;
	double t0;

	TEST_START("second open while locked -> IN-USE");
	new_maildir(md, sizeof(md), "inuse");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	/* fcntl locks are per process: try from a child. */
	if ((pid = fork()) == 0) {
		mb2 = NULL;
		rc = mb_open(md, &mb2, &err);
		_exit(rc == SATCHEL_MBOX_INUSE && mb2 == NULL &&
		    err != NULL ? 0 : 10 + rc);
	}
	ASSERT_TRUE(pid > 0);
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	TEST_DONE();

	TEST_START("lock_fcntl with a timeout waits, then reports busy");
	if ((pid = fork()) == 0) {
		char p[1024];
		int fd;

		mkpath(p, sizeof(p), md, ".satchel.lock", NULL);
		if ((fd = open(p, O_RDWR)) == -1)
			_exit(9);
		t0 = now_s();
		rc = core->lock_fcntl(fd, 1, 150);
		_exit(rc == 1 && now_s() - t0 >= 0.14 ? 0 : 10 + rc);
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	TEST_DONE();

	TEST_START("lock released by close");
	if (mb != NULL)
		ops->close(mb);
	mb = NULL;
	if ((pid = fork()) == 0) {
		mb2 = NULL;
		rc = mb_open(md, &mb2, &err);
		_exit(rc == SATCHEL_MBOX_OK ? 0 : 10 + rc);
	}
	ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
	TEST_DONE();
}

static void
test_under_us(void)
{
	char md[1024], a[1024], b[1024], buf[256];
	const char *err;
	void *mb = NULL;
	size_t len;

	new_maildir(md, sizeof(md), "underus");
	put(md, "cur", "3000.a:2,S", "message a\n");
	put(md, "new", "3001.b", "message b\n");
	put(md, "cur", "3002.c:2,", "message c\n");
	put(md, "new", "3003.d", "message d\n");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb == NULL)
		return;

	TEST_START("message renamed under us is still found");
	mkpath(a, sizeof(a), md, "cur", "3000.a:2,S");
	mkpath(b, sizeof(b), md, "cur", "3000.a:2,FS");
	ASSERT_INT_EQ(rename(a, b), 0);
	mkpath(a, sizeof(a), md, "new", "3001.b");
	mkpath(b, sizeof(b), md, "cur", "3001.b:2,S");
	ASSERT_INT_EQ(rename(a, b), 0);
	ASSERT_INT_EQ(read_msg(mb, 0, buf, sizeof(buf), &len), 0);
	ASSERT_MEM_EQ(buf, len, "message a\n", 10);
	ASSERT_INT_EQ(read_msg(mb, 1, buf, sizeof(buf), &len), 0);
	ASSERT_MEM_EQ(buf, len, "message b\n", 10);
	ASSERT_STR_EQ(uid_of(mb, 0), "3000.a");
	ASSERT_STR_EQ(uid_of(mb, 1), "3001.b");
	TEST_DONE();

	TEST_START("message deleted under us -> vanished");
	mkpath(a, sizeof(a), md, "cur", "3002.c:2,");
	ASSERT_INT_EQ(unlink(a), 0);
	err = NULL;
	{
		struct satchel_msgref ref;

		ASSERT_INT_EQ(ops->message(mb, 2, &ref, &err), 1);
		ASSERT_STR_EQ(err, "message vanished");
	}
	TEST_DONE();

	TEST_START("commit copes with renamed and vanished messages");
	{
		uint8_t marks[4] = { SATCHEL_MARK_DELETED, SATCHEL_MARK_SEEN,
		    SATCHEL_MARK_DELETED, 0 };

		/* 3003.d moves again after we scanned. */
		mkpath(a, sizeof(a), md, "new", "3003.d");
		mkpath(b, sizeof(b), md, "cur", "3003.d:2,F");
		ASSERT_INT_EQ(rename(a, b), 0);
		ASSERT_INT_EQ(ops->commit(mb, marks, 4, &err), 0);
		ASSERT_TRUE(!exists(md, "cur", "3000.a:2,FS"));
		ASSERT_TRUE(exists(md, "cur", "3001.b:2,S"));
		ASSERT_TRUE(exists(md, "cur", "3003.d:2,F"));
	}
	ops->close(mb);
	TEST_DONE();
}

static void
count_files(const char *md, const char *sub, int *n)
{
	char p[1024];
	struct dirent *de;
	DIR *d;

	*n = 0;
	mkpath(p, sizeof(p), md, sub, NULL);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(*n)++;
	closedir(d);
}

static void
test_commit(void)
{
	char md[1024], uids[6][SATCHEL_UID_MAX + 1], name[256];
	const char *err;
	void *mb = NULL;
	uint8_t marks[6];
	size_t i;
	int n;
	static const char *const body[6] = {
		"keep new unseen\n", "keep new seen\n", "delete new\n",
		"cur seen\n", "delete cur\n", "cur untouched\n",
	};

	new_maildir(md, sizeof(md), "commit");
	put(md, "new", "4000.a", body[0]);
	put(md, "new", "4001.b,S=14", body[1]);
	put(md, "new", "4002.c", body[2]);
	put(md, "cur", "4003.d:2,FT", body[3]);
	put(md, "cur", "4004.e:2,S", body[4]);
	put(md, "cur", "4005.f:2,", body[5]);

	TEST_START("commit deletes marked, moves new to cur with W=");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb == NULL) {
		TEST_DONE();
		return;
	}
	ASSERT_INT_EQ(ops->count(mb), 6);
	for (i = 0; i < 6; i++)
		memcpy(uids[i], uid_of(mb, i), sizeof(uids[i]));
	memset(marks, 0, sizeof(marks));
	marks[1] = SATCHEL_MARK_SEEN;
	marks[2] = SATCHEL_MARK_DELETED | SATCHEL_MARK_SEEN;
	marks[3] = SATCHEL_MARK_SEEN;
	marks[4] = SATCHEL_MARK_DELETED;
	ASSERT_INT_EQ(ops->commit(mb, marks, 5, &err), -1);
	ASSERT_INT_EQ(ops->commit(mb, marks, 6, &err), 0);
	ops->close(mb);
	mb = NULL;

	count_files(md, "new", &n);
	ASSERT_INT_EQ(n, 0);
	count_files(md, "cur", &n);
	ASSERT_INT_EQ(n, 4);
	snprintf(name, sizeof(name), "4000.a,S=%zu,W=%llu:2,",
	    strlen(body[0]), (unsigned long long)ref_size(body[0]));
	ASSERT_TRUE(exists(md, "cur", name));
	snprintf(name, sizeof(name), "4001.b,S=14,W=%llu:2,S",
	    (unsigned long long)ref_size(body[1]));
	ASSERT_TRUE(exists(md, "cur", name));
	ASSERT_TRUE(!exists(md, "new", "4002.c"));
	ASSERT_TRUE(exists(md, "cur", "4003.d:2,FST"));
	ASSERT_TRUE(!exists(md, "cur", "4004.e:2,S"));
	ASSERT_TRUE(exists(md, "cur", "4005.f:2,"));
	TEST_DONE();

	TEST_START("UIDs and sizes unchanged on reopen");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), 4);
		ASSERT_STR_EQ(uid_of(mb, 0), uids[0]);
		ASSERT_STR_EQ(uid_of(mb, 1), uids[1]);
		ASSERT_STR_EQ(uid_of(mb, 2), uids[3]);
		ASSERT_STR_EQ(uid_of(mb, 3), uids[5]);
		ASSERT_U64_EQ(size_of(mb, 0), ref_size(body[0]));
		ASSERT_U64_EQ(size_of(mb, 1), ref_size(body[1]));
		ASSERT_U64_EQ(size_of(mb, 2), ref_size(body[3]));
		ASSERT_U64_EQ(size_of(mb, 3), ref_size(body[5]));
		/* Nothing marked: nothing moves. */
		memset(marks, 0, sizeof(marks));
		ASSERT_INT_EQ(ops->commit(mb, marks, 4, &err), 0);
		ops->close(mb);
	}
	count_files(md, "cur", &n);
	ASSERT_INT_EQ(n, 4);
	TEST_DONE();
}

static void
test_size_cache(void)
{
	char md[1024], p[1024], buf[4096];
	const char *err;
	void *mb = NULL;
	ssize_t r;
	int fd;

	new_maildir(md, sizeof(md), "cache");
	put(md, "cur", "5000.a:2,S", "line\nline\n");
	put(md, "cur", "5001.b:2,", "x\n");
	put(md, "cur", "5002.c,W=7:2,", "hinted\n");

	TEST_START("size cache written with the computed sizes");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL)
		ops->close(mb);
	mkpath(p, sizeof(p), md, ".satchel.sizes", NULL);
	memset(buf, 0, sizeof(buf));
	if ((fd = open(p, O_RDONLY)) != -1) {
		r = read(fd, buf, sizeof(buf) - 1);
		ASSERT_TRUE(r > 0);
		close(fd);
	}
	ASSERT_STR_EQ(buf, "satchel-sizes 2\n12 5000.a\n3 5001.b\n");
	TEST_DONE();

	TEST_START("size cache used on the next open");
	/* Same name, other content: only the cache knows the old size. */
	put(md, "cur", "5000.a:2,S", "changed\n");
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_U64_EQ(size_of(mb, 0), 12);
		ASSERT_U64_EQ(size_of(mb, 1), 3);
		ASSERT_U64_EQ(size_of(mb, 2), 7);
		ops->close(mb);
	}
	TEST_DONE();

	TEST_START("corrupt size cache ignored");
	test_write_file(p, "satchel-sizes 2\n12x 5000.a\n", 27);
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_U64_EQ(size_of(mb, 0), ref_size("changed\n"));
		ops->close(mb);
	}
	test_write_file(p, "garbage", 7);
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	if (mb != NULL) {
		ASSERT_U64_EQ(size_of(mb, 0), ref_size("changed\n"));
		ASSERT_U64_EQ(size_of(mb, 1), 3);
		ops->close(mb);
	}
	TEST_DONE();
}

static void
test_big(void)
{
	char md[1024], p[1024], name[128];
	const char *err;
	void *mb = NULL;
	size_t i, n = 100000;
	double t0, t1;
	uint8_t *marks;
	int fd;

	TEST_START("100,000 messages");
	new_maildir(md, sizeof(md), "big");
	for (i = 0; i < n; i++) {
		/* Reverse order of creation, to make the sort work. */
		snprintf(name, sizeof(name),
		    "%zu.M%zuP1.host,S=10,W=%zu:2,S", 1700000000 + (n - i) / 7,
		    n - i, 10 + i % 5);
		mkpath(p, sizeof(p), md, i % 10 == 0 ? "new" : "cur", name);
		if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) == -1) {
			perror(p);
			exit(2);
		}
		close(fd);
	}
	t0 = now_s();
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_OK);
	t1 = now_s();
	printf("  scan of %zu messages: %.3f s\n", n, t1 - t0);
	if (mb != NULL) {
		ASSERT_INT_EQ(ops->count(mb), n);
		ASSERT_STR_EQ(uid_of(mb, 0), "1700000000.M1P1.host");
		/* "M100000" < "M99999" as strings. */
		ASSERT_STR_EQ(uid_of(mb, n - 1), "1700014285.M99999P1.host");
		ASSERT_U64_EQ(size_of(mb, n - 1), 11);
		if ((marks = calloc(n, 1)) != NULL) {
			marks[0] = SATCHEL_MARK_DELETED;
			t0 = now_s();
			ASSERT_INT_EQ(ops->commit(mb, marks, n, &err), 0);
			printf("  commit (1 delete, %zu moves): %.3f s\n",
			    n / 10, now_s() - t0);
			free(marks);
		}
		ops->close(mb);
	}
	TEST_DONE();
}

static void
test_dotlock(void)
{
	char base[1024], lockp[1024];
	struct timeval tv[2];
	double t0;

	mkpath(base, sizeof(base), test_tmpdir(), "mbox", NULL);
	mkpath(lockp, sizeof(lockp), test_tmpdir(), "mbox.lock", NULL);

	TEST_START("dotlock: take, busy with timeout, release");
	ASSERT_INT_EQ(core->lock_dotlock(base, 0, 300), 0);
	ASSERT_TRUE(exists(lockp, NULL, NULL));
	t0 = now_s();
	ASSERT_INT_EQ(core->lock_dotlock(base, 100, 300), 1);
	ASSERT_TRUE(now_s() - t0 >= 0.09);
	ASSERT_INT_EQ(core->lock_dotunlock(base), 0);
	ASSERT_TRUE(!exists(lockp, NULL, NULL));
	TEST_DONE();

	TEST_START("dotlock: a stale lock is broken");
	test_write_file(lockp, "1\n", 2);
	memset(tv, 0, sizeof(tv));
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 1000;
	ASSERT_INT_EQ(utimes(lockp, tv), 0);
	ASSERT_INT_EQ(core->lock_dotlock(base, 0, 300), 0);
	ASSERT_INT_EQ(core->lock_dotunlock(base), 0);
	TEST_DONE();
}

/* ---- symlinks and owners (issue 11) --------------------------------- */

static void
chown_tree(const char *path, uid_t uid)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "chown -R -h %lu:%lu '%s'",
	    (unsigned long)uid, (unsigned long)uid, path);
	if (system(cmd) != 0)
		exit(2);
}

/*
 * Open path as uid in a child; its exit status: 10 + the open status,
 * or 20 + the number of messages message() hands out.
 */
static int
open_as(uid_t uid, const char *path, const char *home)
{
	struct satchel_mailbox_ref ref;
	struct satchel_msgref mref;
	const char *err;
	void *mb = NULL;
	size_t n;
	pid_t pid;
	int st, r;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 || setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(2);
		memset(&ref, 0, sizeof(ref));
		ref.driver = "maildir";
		ref.path = path;
		ref.user = "tester";
		ref.home = home;
		r = ops->open(ctx, &ref, &mb, &err);
		if (r != SATCHEL_MBOX_OK)
			_exit(10 + r);
		for (n = 0, r = 20; n < ops->count(mb); n++)
			if (ops->message(mb, n, &mref, &err) == 0) {
				close(mref.fd);
				r++;
			}
		ops->close(mb);
		_exit(r);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void
test_symlinks(void)
{
	char md[1024], out[1024], p[1100], home[1024], link[1100];
	struct satchel_msgref ref;
	const char *err;
	struct stat st;
	void *mb;

	TEST_START("symlink: a cur/ pointing elsewhere is refused, nothing "
	    "read or unlinked");
	mkpath(out, sizeof(out), test_tmpdir(), "outside", NULL);
	ASSERT_INT_EQ(mkdir(out, 0750), 0);
	put(out, NULL, "1700000000.secret:2,", "Subject: secret\n\nroot only\n");
	new_maildir(md, sizeof(md), "linked-cur");
	mkpath(p, sizeof(p), md, "cur", NULL);
	ASSERT_INT_EQ(rmdir(p), 0);
	ASSERT_INT_EQ(symlink(out, p), 0);
	put(md, "new", "1700000001.mine", "Subject: mine\n\nx\n");
	mb = NULL;
	ASSERT_INT_EQ(mb_open(md, &mb, &err), SATCHEL_MBOX_ERROR);
	ASSERT_TRUE(mb == NULL);
	if (mb != NULL) {
		/* Were it opened, neither RETR nor DELE may reach out. */
		(void)ops->message(mb, 0, &ref, &err);
		ops->close(mb);
	}
	ASSERT_TRUE(exists(out, NULL, "1700000000.secret:2,"));
	TEST_DONE();

	TEST_START("symlink: a maildir that is a symlink is refused");
	mkpath(link, sizeof(link), test_tmpdir(), "linked-maildir", NULL);
	new_maildir(p, sizeof(p), "real-maildir");
	ASSERT_INT_EQ(symlink(p, link), 0);
	ASSERT_INT_EQ(mb_open(link, &mb, &err), SATCHEL_MBOX_ERROR);
	TEST_DONE();

	TEST_START("symlink: none below the home, even above the maildir");
	mkpath(home, sizeof(home), test_tmpdir(), "home", NULL);
	ASSERT_INT_EQ(mkdir(home, 0755), 0);
	mkpath(p, sizeof(p), test_tmpdir(), "elsewhere", NULL);
	ASSERT_INT_EQ(mkdir(p, 0755), 0);
	mkpath(link, sizeof(link), home, "mail", NULL);
	ASSERT_INT_EQ(symlink(p, link), 0);
	mkpath(md, sizeof(md), home, "mail/Maildir", NULL);
	ASSERT_INT_EQ(open_as(0, md, home), 10 + SATCHEL_MBOX_ERROR);
	mkpath(p, sizeof(p), test_tmpdir(), "elsewhere/Maildir", NULL);
	ASSERT_INT_EQ(stat(p, &st), -1);	/* nothing created there */
	/* Without the home, the part above the maildir is the admin's. */
	ASSERT_INT_EQ(open_as(0, md, NULL), 20);
	TEST_DONE();

	TEST_START("owner: a maildir or message of another user is refused");
	if (geteuid() != 0) {
		TEST_SKIP("needs root to change owners");
		TEST_DONE();
		return;
	}
	ASSERT_INT_EQ(chmod(test_tmpdir(), 0711), 0);
	new_maildir(md, sizeof(md), "owned");
	put(md, "cur", "1700000002.a:2,", "Subject: a\n\na\n");
	put(md, "cur", "1700000003.b:2,", "Subject: b\n\nb\n");
	chown_tree(md, 4321);
	ASSERT_INT_EQ(open_as(4321, md, NULL), 22);
	/* Another owner's message is refused (and logged). */
	mkpath(p, sizeof(p), md, "cur/1700000003.b:2,", NULL);
	ASSERT_INT_EQ(chown(p, 4322, 4322), 0);
	ASSERT_INT_EQ(chmod(p, 0644), 0);	/* readable: the owner counts */
	ASSERT_INT_EQ(open_as(4321, md, NULL), 21);
	/* Another owner's cur/ fails the open. */
	mkpath(p, sizeof(p), md, "cur", NULL);
	ASSERT_INT_EQ(chown(p, 4322, 4322), 0);
	ASSERT_INT_EQ(chmod(p, 0777), 0);
	ASSERT_INT_EQ(open_as(4321, md, NULL), 10 + SATCHEL_MBOX_ERROR);
	/* The walk without openat2's one go: a user, a symlinked ~/mail. */
	mkpath(home, sizeof(home), test_tmpdir(), "home2", NULL);
	ASSERT_INT_EQ(mkdir(home, 0755), 0);
	mkpath(p, sizeof(p), test_tmpdir(), "elsewhere2", NULL);
	ASSERT_INT_EQ(mkdir(p, 0755), 0);
	mkpath(link, sizeof(link), home, "mail", NULL);
	ASSERT_INT_EQ(symlink(p, link), 0);
	chown_tree(home, 4321);
	chown_tree(p, 4321);
	mkpath(md, sizeof(md), home, "mail/Maildir", NULL);
	ASSERT_INT_EQ(open_as(4321, md, home), 10 + SATCHEL_MBOX_ERROR);
	mkpath(p, sizeof(p), test_tmpdir(), "elsewhere2/Maildir", NULL);
	ASSERT_INT_EQ(stat(p, &st), -1);
	ASSERT_INT_EQ(chmod(test_tmpdir(), 0700), 0);
	TEST_DONE();
}

int
main(void)
{
	const struct satchel_module *mod;
	struct module *m;

	TEST_START("load the maildir module through module_load");
	core = test_core();
	if ((m = test_load_module("maildir", SATCHEL_MODULE_STORAGE)) ==
	    NULL) {
		TEST_DONE();
		return test_summary();
	}
	mod = m->desc;
	ASSERT_INT_EQ(mod->abi_major, SATCHEL_ABI_MAJOR);
	ASSERT_INT_EQ(mod->abi_minor, SATCHEL_ABI_MINOR);
	ASSERT_INT_EQ(mod->kind, SATCHEL_MODULE_STORAGE);
	ASSERT_STR_EQ(mod->name, "maildir");
	ASSERT_INT_EQ(mod->ops_size, sizeof(struct satchel_storage_ops));
	ASSERT_TRUE(dlsym(m->handle, "maildir_open") == NULL);
	ASSERT_TRUE(dlsym(m->handle, "md_hint") == NULL);
	ops = mod->ops;
	ASSERT_INT_EQ(ops->init(core, NULL, &ctx), 0);
	TEST_DONE();

	test_create();
	test_odd_names();
	test_duplicates();
	test_inuse();
	test_under_us();
	test_commit();
	test_size_cache();
	test_symlinks();
	test_dotlock();
	test_big();

	ops->fini(ctx);
	module_unload(m);
	return test_summary();
}
