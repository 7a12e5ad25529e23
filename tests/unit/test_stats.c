/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test_stats.c -- the metrics text renderer (lib/stats_render.c), the
 * HTTP request parser of the stats process (lib/stats_http.c) and the
 * counters' hooks and role narrowing (lib/stats_shm.c).
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "buf.h"
#include "stats_shm.h"
#include "test.h"

static char *
render(const struct stats_snapshot *snap, int om)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	ASSERT_INT_EQ(stats_render(snap, om, &b), 0);
	s = calloc(1, b.len + 1);
	memcpy(s, buf_ptr(&b), b.len);
	buf_free(&b);
	return s;
}

static int
has(const char *text, const char *line)
{
	return strstr(text, line) != NULL;
}

static void
test_render(void)
{
	static struct stats_snapshot snap;
	char *t;

	TEST_START("render: Prometheus text 0.0.4");
	memset(&snap, 0, sizeof(snap));
	snap.m.nmodules = 2;
	strlcpy(snap.m.modules[0], "none", sizeof(snap.m.modules[0]));
	strlcpy(snap.m.modules[1], "file", sizeof(snap.m.modules[1]));
	snap.a.logins[1][STATS_RES_OK] = 3;
	snap.a.logins[1][STATS_RES_FAIL] = 2;
	snap.a.logins[1][STATS_RES_TEMPFAIL] = 1;
	/* 1 ms, 7 ms, 20 s (past every bound). */
	snap.a.bucket[1][0] = 1;
	snap.a.bucket[1][2] = 1;
	snap.a.bucket[1][STATS_BUCKETS] = 1;
	snap.a.sum_ms[1] = 20008;
	snap.m.states[5] = 4;		/* SB_TRANSACTION */
	snap.m.workers_busy = 5;
	snap.m.workers_idle = 7;
	snap.a.procs[3].pid = 99;
	snap.a.procs[3].spare = 2;
	snap.a.procs[4].pid = 0;	/* a dead process's count is not */
	snap.a.procs[4].spare = 50;
	snap.w.retr = 11;
	snap.w.in_use = 1;
	snap.w.tls[STATS_TLS_13] = 6;
	snap.w.limits[stats_limit_index("max_connections_per_ip")] = 2;
	snap.m.limits[stats_limit_index("workers_max")] = 9;
	snap.m.limits[stats_limit_index("max_connections_per_ip")] = 1;
	t = render(&snap, 0);
	ASSERT_TRUE(has(t, "# TYPE satchel_logins_total counter\n"));
	ASSERT_TRUE(has(t, "satchel_logins_total{result=\"ok\","
	    "module=\"file\"} 3\n"));
	ASSERT_TRUE(has(t, "satchel_logins_total{result=\"fail\","
	    "module=\"file\"} 2\n"));
	ASSERT_TRUE(has(t, "satchel_logins_total{result=\"tempfail\","
	    "module=\"file\"} 1\n"));
	ASSERT_TRUE(has(t, "satchel_logins_total{result=\"ok\","
	    "module=\"none\"} 0\n"));
	/* Cumulative buckets, +Inf equals _count. */
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_bucket{"
	    "module=\"file\",le=\"0.001\"} 1\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_bucket{"
	    "module=\"file\",le=\"0.005\"} 1\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_bucket{"
	    "module=\"file\",le=\"0.01\"} 2\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_bucket{"
	    "module=\"file\",le=\"10\"} 2\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_bucket{"
	    "module=\"file\",le=\"+Inf\"} 3\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_count{"
	    "module=\"file\"} 3\n"));
	ASSERT_TRUE(has(t, "satchel_auth_duration_seconds_sum{"
	    "module=\"file\"} 20.008\n"));
	ASSERT_TRUE(has(t, "satchel_sessions{state=\"transaction\"} 4\n"));
	ASSERT_TRUE(has(t, "satchel_workers{state=\"busy\"} 5\n"));
	ASSERT_TRUE(has(t, "satchel_agents_spare 2\n"));
	ASSERT_TRUE(has(t, "satchel_retr_total 11\n"));
	ASSERT_TRUE(has(t, "satchel_lock_conflicts_total 1\n"));
	ASSERT_TRUE(has(t, "satchel_tls_sessions_total{version=\"TLSv1.3\"} "
	    "6\n"));
	/* Master and worker counts of a limit add up. */
	ASSERT_TRUE(has(t, "satchel_limits_total{limit=\"max_connections_"
	    "per_ip\"} 3\n"));
	ASSERT_TRUE(has(t, "satchel_limits_total{limit=\"workers_max\"} 9\n"));
	ASSERT_TRUE(!has(t, "# EOF"));
	ASSERT_TRUE(t[strlen(t) - 1] == '\n');
	free(t);
	TEST_DONE();

	TEST_START("render: OpenMetrics families and # EOF");
	t = render(&snap, 1);
	ASSERT_TRUE(has(t, "# TYPE satchel_logins counter\n"));
	ASSERT_TRUE(!has(t, "# TYPE satchel_logins_total"));
	ASSERT_TRUE(has(t, "satchel_logins_total{result=\"ok\","
	    "module=\"file\"} 3\n"));
	ASSERT_TRUE(has(t, "# TYPE satchel_auth_duration_seconds "
	    "histogram\n"));
	ASSERT_TRUE(has(t, "# TYPE satchel_sessions gauge\n"));
	ASSERT_INT_EQ(strcmp(t + strlen(t) - 6, "# EOF\n"), 0);
	free(t);
	TEST_DONE();

	TEST_START("render: hostile values and names stay numbers");
	memset(&snap, 0xff, sizeof(snap));	/* what a broken section holds */
	snap.m.nmodules = 0xffffffffU;
	snap.m.modules[1][0] = '"';
	snap.m.modules[1][1] = '\n';
	t = render(&snap, 1);
	ASSERT_TRUE(!has(t, "\"\"\""));
	ASSERT_TRUE(has(t, "satchel_retr_total 18446744073709551615\n"));
	/* No name runs past its array: 32 bytes of 0xff become '_'. */
	ASSERT_TRUE(has(t, "module=\"________________________________\""));
	free(t);
	TEST_DONE();

	TEST_START("render: a buffer too small fails, does not cut");
	{
		struct buf b;

		memset(&snap, 0, sizeof(snap));
		buf_init(&b, 100);
		ASSERT_INT_EQ(stats_render(&snap, 0, &b), -1);
		ASSERT_TRUE(b.len <= 100);
		buf_free(&b);
	}
	TEST_DONE();
}

static const struct {
	const char	*label;
	const char	*in;
	int		 r;
	int		 method, minor, metrics, om;
} http_cases[] = {
	{ "1.0 GET", "GET /metrics HTTP/1.0\r\n\r\n", 1,
	    STATS_HTTP_GET, 0, 1, 0 },
	{ "1.1 with headers", "GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "User-Agent: Prometheus/2\r\n\r\n", 1, STATS_HTTP_GET, 1, 1, 0 },
	{ "Accept: openmetrics", "GET /metrics HTTP/1.1\r\nAccept: "
	    "application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n"
	    "\r\n", 1, STATS_HTTP_GET, 1, 1, 1 },
	{ "accept any case", "GET /metrics HTTP/1.1\nACCEPT: Application/"
	    "OpenMetrics-Text\n\n", 1, STATS_HTTP_GET, 1, 1, 1 },
	{ "query ignored", "GET /metrics?x=1 HTTP/1.1\r\n\r\n", 1,
	    STATS_HTTP_GET, 1, 1, 0 },
	{ "other path", "GET /metricsx HTTP/1.1\r\n\r\n", 1,
	    STATS_HTTP_GET, 1, 0, 0 },
	{ "root", "GET / HTTP/1.0\r\n\r\n", 1, STATS_HTTP_GET, 0, 0, 0 },
	{ "HEAD", "HEAD /metrics HTTP/1.0\r\n\r\n", 1, STATS_HTTP_HEAD, 0, 1,
	    0 },
	{ "POST", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1,
	    STATS_HTTP_OTHER, 1, 1, 0 },
	{ "incomplete", "GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, 0, 0, 0, 0 },
	{ "empty", "", 0, 0, 0, 0, 0 },
	{ "HTTP/2", "GET /metrics HTTP/2.0\r\n\r\n", -1, 0, 0, 0, 0 },
	{ "HTTP/0.9", "GET /metrics\r\n\r\n", -1, 0, 0, 0, 0 },
	{ "two spaces", "GET  /metrics HTTP/1.0\r\n\r\n", -1, 0, 0, 0, 0 },
	{ "empty line first", "\r\nGET /metrics HTTP/1.0\r\n\r\n", -1, 0, 0,
	    0, 0 },
	{ "header without colon", "GET /metrics HTTP/1.0\r\nHost x\r\n\r\n",
	    -1, 0, 0, 0, 0 },
	{ "folded header", "GET /metrics HTTP/1.0\r\nA: b\r\n c\r\n\r\n", -1,
	    0, 0, 0, 0 },
	{ "a body", "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
	    -1, 0, 0, 0, 0 },
	{ "chunked", "GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n", -1, 0, 0, 0, 0 },
	{ "control byte in a target", "GET /me\001trics HTTP/1.0\r\n\r\n", -1,
	    0, 0, 0, 0 },
	{ "CR inside a header", "GET /metrics HTTP/1.0\r\nA: b\rc\r\n\r\n",
	    -1, 0, 0, 0, 0 },
};

static void
test_http(void)
{
	struct stats_http_req req;
	size_t i, used;
	char *big;
	int r;

	for (i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]); i++) {
		TEST_START(http_cases[i].label);
		r = stats_http_parse(http_cases[i].in,
		    strlen(http_cases[i].in), &req, &used);
		ASSERT_INT_EQ(r, http_cases[i].r);
		if (r == 1) {
			ASSERT_INT_EQ(req.method, http_cases[i].method);
			ASSERT_INT_EQ(req.minor, http_cases[i].minor);
			ASSERT_INT_EQ(req.metrics, http_cases[i].metrics);
			ASSERT_INT_EQ(req.openmetrics, http_cases[i].om);
			ASSERT_INT_EQ(used, strlen(http_cases[i].in));
		}
		TEST_DONE();
	}

	TEST_START("http: a NUL is refused");
	ASSERT_INT_EQ(stats_http_parse("GET /metrics\0 HTTP/1.0\r\n\r\n", 26,
	    &req, &used), -1);
	TEST_DONE();

	TEST_START("http: a head of STATS_HTTP_MAX without its end is refused");
	big = malloc(STATS_HTTP_MAX + 10);
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', STATS_HTTP_MAX + 10 - 26);
	ASSERT_INT_EQ(stats_http_parse(big, STATS_HTTP_MAX - 1, &req, &used),
	    0);
	ASSERT_INT_EQ(stats_http_parse(big, STATS_HTTP_MAX, &req, &used), -1);
	ASSERT_INT_EQ(stats_http_parse(big, STATS_HTTP_MAX + 10, &req, &used),
	    -1);
	free(big);
	TEST_DONE();

	TEST_START("http: Connection headers");
	{
		const char *h = "GET /metrics HTTP/1.1\r\nConnection: "
		    "Close\r\n\r\n";

		ASSERT_INT_EQ(stats_http_parse(h, strlen(h), &req, &used), 1);
	}
	ASSERT_INT_EQ(req.keepalive, 0);
	TEST_DONE();
}

/* The hooks count in the section of the role, and only there. */
static void
test_hooks(void)
{
	static struct stats_snapshot snap;
	char *names[] = { "file", "mysql", "file" };
	pid_t pid;
	int status;

	TEST_START("hooks: off before stats_map()");
	stats_in_use();		/* must not crash */
	stats_limit("workers_max");
	ASSERT_INT_EQ(stats_enabled(), 0);
	TEST_DONE();

	TEST_START("hooks: each role writes its own section");
	ASSERT_INT_EQ(stats_map(), 0);
	stats_modules(names, 3);
	stats_limit("workers_max");		/* the master's */
	stats_limit("no such limit");		/* "other" */
	/* A worker: counts in the worker section only. */
	if ((pid = fork()) == 0) {
		stats_keep(STATS_ROLE_WORKER);
		stats_session(2, 200, 1, 100, 50, 5000);
		stats_in_use();
		stats_tls("TLSv1.3/TLS_AES_256_GCM_SHA384");
		stats_tls("TLSv1.2/ECDHE");
		stats_limit("max_connections_per_ip");
		stats_login("file", STATS_RES_OK, 3);	/* not a worker's */
		_exit(0);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid && status == 0);
	/* An auth process: logins, latency and spares. */
	if ((pid = fork()) == 0) {
		stats_keep(STATS_ROLE_AUTH);
		stats_login("file", STATS_RES_OK, 3);
		stats_login("mysql", STATS_RES_TEMPFAIL, 30000);
		stats_login(NULL, STATS_RES_FAIL, 0);
		stats_auth_spare(4);
		stats_in_use();				/* not auth's */
		_exit(0);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid && status == 0);
	stats_snapshot(&snap);
	ASSERT_INT_EQ(snap.m.nmodules, 3);
	ASSERT_STR_EQ(snap.m.modules[1], "file");
	ASSERT_STR_EQ(snap.m.modules[2], "mysql");
	ASSERT_U64_EQ(snap.w.sessions, 1);
	ASSERT_U64_EQ(snap.w.retr, 2);
	ASSERT_U64_EQ(snap.w.retr_bytes, 200);
	ASSERT_U64_EQ(snap.w.dele, 1);
	ASSERT_U64_EQ(snap.w.bytes_out, 5000);
	ASSERT_U64_EQ(snap.w.in_use, 1);
	ASSERT_U64_EQ(snap.w.tls[STATS_TLS_13], 1);
	ASSERT_U64_EQ(snap.w.tls[STATS_TLS_12], 1);
	ASSERT_U64_EQ(snap.w.limits[stats_limit_index(
	    "max_connections_per_ip")], 1);
	ASSERT_U64_EQ(snap.m.limits[stats_limit_index("workers_max")], 1);
	ASSERT_U64_EQ(snap.m.limits[STATS_LIMITS - 1], 1);
	ASSERT_U64_EQ(snap.a.logins[1][STATS_RES_OK], 1);
	ASSERT_U64_EQ(snap.a.logins[2][STATS_RES_TEMPFAIL], 1);
	ASSERT_U64_EQ(snap.a.logins[0][STATS_RES_FAIL], 1);
	ASSERT_U64_EQ(snap.a.bucket[1][1], 1);		/* 3 ms <= 5 ms */
	ASSERT_U64_EQ(snap.a.bucket[2][STATS_BUCKETS], 1);
	ASSERT_U64_EQ(snap.a.sum_ms[2], 30000);
	ASSERT_INT_EQ(snap.a.procs[0].pid, pid);
	ASSERT_INT_EQ(snap.a.procs[0].spare, 4);
	stats_reaped(pid);
	stats_snapshot(&snap);
	ASSERT_INT_EQ(snap.a.procs[0].pid, 0);
	TEST_DONE();

	TEST_START("hooks: an agent, forked by the auth pool, drops it all");
	if ((pid = fork()) == 0) {
		stats_keep(STATS_ROLE_AUTH);
		stats_keep(STATS_ROLE_NONE);
		stats_login("file", STATS_RES_OK, 1);	/* goes nowhere */
		stats_snapshot(&snap);
		_exit(!stats_enabled() && snap.a.logins[1][0] == 0 ? 0 : 1);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid && status == 0);
	stats_snapshot(&snap);
	ASSERT_U64_EQ(snap.a.logins[1][STATS_RES_OK], 1);
	TEST_DONE();

	TEST_START("hooks: a worker has no other section mapped");
	if ((pid = fork()) == 0) {
		stats_keep(STATS_ROLE_WORKER);
		stats_snapshot(&snap);
		/* The snapshot of what it can see: its own section only. */
		_exit(snap.m.nmodules == 0 && snap.a.logins[1][0] == 0 &&
		    snap.w.retr == 2 ? 0 : 1);
	}
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid && status == 0);
	TEST_DONE();
}

int
main(void)
{
	test_render();
	test_http();
	test_hooks();
	return test_summary();
}
