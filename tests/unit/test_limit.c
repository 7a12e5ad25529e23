/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_limit.c -- the abuse limits: connections per address and in
 * AUTHORIZATION, sessions per user (limit.c, over a real scoreboard
 * mapping), the tarpit's delays and allow-list (tarpit.c over the
 * shared failed-login table), the new config keys, and a dotlock whose
 * owner is dead (lock.c).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "satchel/module.h"
#include "conf.h"
#include "limit.h"
#include "lock.h"
#include "master.h"
#include "scoreboard.h"
#include "auth_fail.h"
#include "tarpit.h"
#include "test.h"

static struct config *
load(const char *extra)
{
	char path[512], text[2048];

	snprintf(path, sizeof(path), "%s/limit.conf", test_tmpdir());
	snprintf(text, sizeof(text), "listen = 127.0.0.1:1110\n"
	    "auth = file\n%s", extra);
	test_write_file(path, text, strlen(text));
	return conf_load(path);
}

static void
occupy(struct sb_slot *s, uint32_t state, const char *peer,
    const char *user)
{
	memset(s, 0, sizeof(*s));
	strncpy(s->peer, peer, sizeof(s->peer) - 1);
	strncpy(s->user, user, sizeof(s->user) - 1);
	sb_set(s, state);
}

static void
test_connect_limits(void)
{
	struct config *cf;
	struct scoreboard *sb;
	const char *limit = NULL, *reply = NULL;
	uint32_t i;

	TEST_START("limit defaults");
	cf = load("");
	ASSERT_TRUE(cf != NULL);
	ASSERT_INT_EQ(cf->max_connections_per_ip, 20);
	ASSERT_INT_EQ(cf->max_sessions_per_user, 10);
	ASSERT_INT_EQ(cf->timeout_login, 60);
	ASSERT_INT_EQ(cf->limits_exempt_trusted, 0);
	ASSERT_INT_EQ(limit_preauth_max(cf), 192);	/* 3/4 of 256 */
	conf_free(cf);
	TEST_DONE();

	TEST_START("limit per address");
	cf = load("max_connections_per_ip = 3\n");
	sb = sb_create(16);
	ASSERT_TRUE(cf != NULL && sb != NULL);
	/* three busy slots from .2, in every busy state */
	occupy(&sb->slots[0], SB_PREAUTH, "127.0.0.2", "");
	occupy(&sb->slots[1], SB_TRANSACTION, "127.0.0.2", "a");
	occupy(&sb->slots[2], SB_AUTH, "127.0.0.2", "");
	/* idle and exiting slots do not count, whatever they say */
	occupy(&sb->slots[3], SB_IDLE, "127.0.0.2", "");
	occupy(&sb->slots[4], SB_EXITING, "127.0.0.2", "");
	occupy(&sb->slots[5], SB_PREAUTH, "127.0.0.2", "");	/* self */
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), -1);
	ASSERT_STR_EQ(limit, "max_connections_per_ip");
	ASSERT_TRUE(strncmp(reply, "-ERR [SYS/TEMP] ", 16) == 0);
	/* another address passes */
	occupy(&sb->slots[5], SB_PREAUTH, "127.0.0.3", "");
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), 0);
	/* one of the three leaves: .2 passes again */
	occupy(&sb->slots[5], SB_PREAUTH, "127.0.0.2", "");
	sb_set(&sb->slots[1], SB_IDLE);
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), 0);
	/* trusted: limited unless limits_exempt_trusted */
	sb_set(&sb->slots[1], SB_UPDATE);
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 1, &limit,
	    &reply), -1);
	cf->limits_exempt_trusted = 1;
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 1, &limit,
	    &reply), 0);
	cf->limits_exempt_trusted = 0;
	/* 0: no limit */
	cf->max_connections_per_ip = 0;
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), 0);
	TEST_DONE();

	TEST_START("limit preauth cap");
	cf->max_preauth_connections = 4;
	for (i = 0; i < 16; i++)
		occupy(&sb->slots[i], SB_FREE, "", "");
	for (i = 0; i < 4; i++)
		occupy(&sb->slots[i], i % 2 ? SB_AUTH : SB_PREAUTH,
		    i < 2 ? "192.0.2.1" : "192.0.2.2", "");
	occupy(&sb->slots[4], SB_TRANSACTION, "192.0.2.3", "u");
	occupy(&sb->slots[5], SB_PREAUTH, "192.0.2.9", "");	/* self */
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), -1);
	ASSERT_STR_EQ(limit, "max_preauth_connections");
	/* a logged-in session does not count */
	sb_set(&sb->slots[3], SB_TRANSACTION);
	ASSERT_INT_EQ(limit_connect(cf, sb, &sb->slots[5], 0, &limit,
	    &reply), 0);
	TEST_DONE();

	TEST_START("limit sessions per user");
	cf->max_sessions_per_user = 2;
	for (i = 0; i < 16; i++)
		occupy(&sb->slots[i], SB_FREE, "", "");
	occupy(&sb->slots[0], SB_TRANSACTION, "192.0.2.1", "alice");
	occupy(&sb->slots[1], SB_UPDATE, "192.0.2.2", "alice");
	occupy(&sb->slots[2], SB_TRANSACTION, "192.0.2.2", "bob");
	occupy(&sb->slots[3], SB_IDLE, "", "alice");	/* stale name */
	occupy(&sb->slots[4], SB_PREAUTH, "192.0.2.5", "alice");  /* self */
	ASSERT_INT_EQ(limit_user(cf, sb, &sb->slots[4], 0), -1);
	strncpy(sb->slots[4].user, "bob", sizeof(sb->slots[4].user));
	ASSERT_INT_EQ(limit_user(cf, sb, &sb->slots[4], 0), 0);
	strncpy(sb->slots[4].user, "alice", sizeof(sb->slots[4].user));
	ASSERT_INT_EQ(limit_user(cf, sb, &sb->slots[4], 1), -1);
	cf->limits_exempt_trusted = 1;
	ASSERT_INT_EQ(limit_user(cf, sb, &sb->slots[4], 1), 0);
	cf->max_sessions_per_user = 0;
	ASSERT_INT_EQ(limit_user(cf, sb, &sb->slots[4], 0), 0);
	TEST_DONE();
	conf_free(cf);
}

static void
test_tarpit(struct scoreboard *sb)
{
	struct config *cf;
	uint32_t d[6];
	int i;

	TEST_START("tarpit allow-list parsing");
	cf = load("login_fail_delay_ms = 100\n"
	    "tarpit_allow = 192.0.2.0/24 2001:db8::/32\n");
	ASSERT_TRUE(cf != NULL);
	ASSERT_INT_EQ(cf->ntarpit_allow, 2);
	ASSERT_INT_EQ(tarpit_allowed(cf, "192.0.2.77"), 1);
	ASSERT_INT_EQ(tarpit_allowed(cf, "192.0.3.1"), 0);
	ASSERT_INT_EQ(tarpit_allowed(cf, "2001:db8::5"), 1);
	ASSERT_INT_EQ(tarpit_allowed(cf, "not-an-address"), 0);
	/* trusted_networks keeps its own list and default */
	ASSERT_INT_EQ(cf->ntrusted, 2);
	TEST_DONE();

	TEST_START("tarpit delays per address, across users");
	for (i = 0; i < 6; i++) {
		char user[32];

		snprintf(user, sizeof(user), "new%d", i);
		d[i] = tarpit_login(cf, user, "198.51.100.1",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms());
	}
	ASSERT_INT_EQ(d[0], 100);
	ASSERT_INT_EQ(d[1], 200);
	ASSERT_INT_EQ(d[2], 400);
	ASSERT_INT_EQ(d[3], 800);
	ASSERT_INT_EQ(d[4], 1600);
	ASSERT_INT_EQ(d[5], 1600);	/* 2^4 x base, no more */
	/* a temporary failure counts nothing; a success answers at once */
	ASSERT_INT_EQ(tarpit_login(cf, "x", "198.51.100.9",
		    SATCHEL_AUTH_TEMPFAIL, auth_fail_now_ms()), 0);
	ASSERT_INT_EQ(tarpit_login(cf, "x", "198.51.100.9",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 100);
	TEST_DONE();

	TEST_START("tarpit per user; success clears the user only");
	for (i = 0; i < 3; i++)
		d[i] = tarpit_login(cf, "carol", i == 0 ? "203.0.113.1" :
		    i == 1 ? "203.0.113.2" : "203.0.113.3",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms());
	ASSERT_INT_EQ(d[2], 400);
	ASSERT_INT_EQ(tarpit_login(cf, "carol", "203.0.113.4",
		    SATCHEL_AUTH_OK, auth_fail_now_ms()), 0);
	ASSERT_INT_EQ(tarpit_login(cf, "carol", "203.0.113.5",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 100);
	/* the address's count stays after a success from it */
	ASSERT_INT_EQ(tarpit_login(cf, "ok", "198.51.100.1",
		    SATCHEL_AUTH_OK, auth_fail_now_ms()), 0);
	ASSERT_INT_EQ(tarpit_login(cf, "dave", "198.51.100.1",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 1600);
	TEST_DONE();

	TEST_START("tarpit allow-list");
	for (i = 0; i < 5; i++) {
		char user[32];

		snprintf(user, sizeof(user), "web%d", i);
		d[i] = tarpit_login(cf, user, "192.0.2.10",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms());
		ASSERT_INT_EQ(d[i], 100);
	}
	/* but a user's own failures count from there too */
	ASSERT_INT_EQ(tarpit_login(cf, "web0", "192.0.2.10",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 200);
	TEST_DONE();

	TEST_START("tarpit cap with a large base");
	cf->login_fail_delay_ms = 40000;
	ASSERT_INT_EQ(tarpit_login(cf, "eve", "198.51.100.1",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 40000);
	cf->login_fail_delay_ms = 5000;
	ASSERT_INT_EQ(tarpit_login(cf, "eve2", "198.51.100.1",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 30000);
	TEST_DONE();

	TEST_START("tarpit counts survive a child's exit");
	if (fork() == 0) {
		/* a child (an auth process, say) adds failures and dies */
		for (i = 0; i < 3; i++)
			(void)tarpit_login(cf, "frank", "198.51.100.77",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms());
		_exit(0);
	}
	(void)wait(NULL);
	cf->login_fail_delay_ms = 100;
	ASSERT_INT_EQ(tarpit_login(cf, "george", "198.51.100.77",
		    SATCHEL_AUTH_FAIL, auth_fail_now_ms()), 800);
	TEST_DONE();
	conf_free(cf);
}

static void
test_dead_owner(void)
{
	char mbox[512], lock[600], text[400], host[256];
	pid_t pid;
	int fd;

	TEST_START("dotlock of a dead owner is broken at once");
	snprintf(mbox, sizeof(mbox), "%s/box", test_tmpdir());
	snprintf(lock, sizeof(lock), "%s.lock", mbox);
	if ((pid = fork()) == 0)
		_exit(0);
	(void)waitpid(pid, NULL, 0);	/* pid is now dead */
	if (gethostname(host, sizeof(host)) == -1)
		strncpy(host, "localhost", sizeof(host));
	snprintf(text, sizeof(text), "%ld %s\n", (long)pid, host);
	test_write_file(lock, text, strlen(text));
	/* stale age 300 s, no wait: only the dead pid can break it */
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 0);
	ASSERT_INT_EQ(lock_dotunlock(mbox), 0);
	/* liblockfile's "pid" form */
	snprintf(text, sizeof(text), "%ld\n", (long)pid);
	test_write_file(lock, text, strlen(text));
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 0);
	ASSERT_INT_EQ(lock_dotunlock(mbox), 0);
	TEST_DONE();

	TEST_START("dotlock of a live, unknown or foreign owner is kept");
	snprintf(text, sizeof(text), "%ld\n", (long)getppid());
	test_write_file(lock, text, strlen(text));
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 1);
	test_write_file(lock, "0\n", 2);	/* dotlockfile without -p */
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 1);
	snprintf(text, sizeof(text), "%ld other-host.example\n", (long)pid);
	test_write_file(lock, text, strlen(text));
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 1);
	snprintf(text, sizeof(text), "%ldjunk\n", (long)pid);
	test_write_file(lock, text, strlen(text));
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 1);
	(void)unlink(lock);
	/* our own lock names us and this host */
	ASSERT_INT_EQ(lock_dotlock(mbox, 0, 300), 0);
	fd = open(lock, O_RDONLY);
	ASSERT_TRUE(fd != -1);
	memset(text, 0, sizeof(text));
	ASSERT_TRUE(read(fd, text, sizeof(text) - 1) > 0);
	close(fd);
	snprintf(mbox, sizeof(mbox), "%ld %s\n", (long)getpid(), host);
	ASSERT_STR_EQ(text, mbox);
	TEST_DONE();
}

int
main(void)
{
	struct scoreboard *sb;

	test_connect_limits();
	if (auth_fail_create() == -1)
		return 1;
	if ((sb = sb_create(4)) == NULL)
		return 1;
	test_tarpit(sb);
	test_dead_owner();
	return test_summary();
}
