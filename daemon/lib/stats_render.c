/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats_render.c -- the text of the metrics endpoint: Prometheus text
 * format 0.0.4, or OpenMetrics 1.0.0 (the same families; counters are
 * declared without their _total suffix, and the text ends with
 * "# EOF").  Pure code: it renders a snapshot (stats_shm.h) into a bounded
 * buffer.  Runs in the stats process, unprivileged, and in tests.
 *
 * Caution: the snapshot may hold anything a compromised worker wrote
 * into its section.  Values are printed as unsigned numbers and never
 * used as an index, a length or a loop bound; the only strings printed
 * come from this file's tables and the module names, filtered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "buf.h"
#include "stats_shm.h"
#include "compat/poison.h"

/* Every name stats_limit() counts; the last one takes the rest. */
static const char *const limit_names[STATS_LIMITS] = {
	"max_connections_per_ip", "max_preauth_connections",
	"max_sessions_per_user", "timeout_login", "login_fail_max",
	"workers_max", "workers-failing", "other",
};
static const char *const result_names[STATS_RESULTS] = {
	"ok", "fail", "tempfail", "error",
};
static const char *const tls_names[STATS_TLS_N] = {
	"TLSv1.2", "TLSv1.3", "other",
};
/* Sessions by state: the scoreboard's states of a busy worker. */
static const struct {
	int		 sb;
	const char	*name;
} session_states[] = {
	{ 3, "preauth" }, { 4, "auth" }, { 5, "transaction" },
	{ 6, "update" },
};
/* The upper bounds of satchel_auth_duration_seconds (stats_login()). */
static const char *const bucket_le[STATS_BUCKETS] = {
	"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10",
};

struct out {
	struct buf	*b;
	int		 om;	/* OpenMetrics */
	int		 err;
};

static void out_printf(struct out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void family(struct out *, const char *, const char *, const char *);
static void sample(struct out *, const char *, const char *, uint64_t);
static void module_label(const char *, size_t, char *, size_t);

int
stats_limit_index(const char *name)
{
	int i;

	for (i = 0; i < STATS_LIMITS - 1; i++)
		if (strcmp(limit_names[i], name) == 0)
			return i;
	return -1;
}

const char *
stats_limit_name(int i)
{
	return i >= 0 && i < STATS_LIMITS ? limit_names[i] : NULL;
}

static void
out_printf(struct out *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (o->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    buf_append(o->b, line, (size_t)n) == -1)
		o->err = 1;
}

/*
 * # HELP and # TYPE of a family.  A counter's family is its name less
 * "_total" in OpenMetrics, the sample's name in the Prometheus format.
 */
static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	char fam[128];
	size_t n = strlen(name);

	strlcpy(fam, name, sizeof(fam));
	if (o->om && strcmp(type, "counter") == 0 && n > 6 &&
	    n < sizeof(fam) && strcmp(name + n - 6, "_total") == 0)
		fam[n - 6] = '\0';
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", fam, help, fam, type);
}

/* name{labels} value; labels is "" or 'k="v",k="v"'. */
static void
sample(struct out *o, const char *name, const char *labels, uint64_t v)
{
	if (labels[0] != '\0')
		out_printf(o, "%s{%s} %llu\n", name, labels,
		    (unsigned long long)v);
	else
		out_printf(o, "%s %llu\n", name, (unsigned long long)v);
}

/* A module name as a label value: [A-Za-z0-9_.-], else '_'. */
static void
module_label(const char *name, size_t max, char *dst, size_t dstlen)
{
	size_t i;
	char ch;

	for (i = 0; i < max && i + 1 < dstlen && name[i] != '\0'; i++) {
		ch = name[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		    ch == '-')
			dst[i] = ch;
		else
			dst[i] = '_';
	}
	dst[i] = '\0';
	if (i == 0)
		strlcpy(dst, "unknown", dstlen);
}

int
stats_render(const struct stats_snapshot *snap, int openmetrics,
    struct buf *b)
{
	const struct stats_master *m = &snap->m;
	const struct stats_auth *a = &snap->a;
	const struct stats_worker *w = &snap->w;
	struct out o = { b, openmetrics, 0 };
	char labels[160], mod[STATS_MODULE_NAME + 1];
	uint64_t cum, count, spare;
	uint32_t nmod, i, j, k;

	nmod = m->nmodules;
	if (nmod == 0 || nmod > STATS_MODULES_MAX)
		nmod = nmod == 0 ? 1 : STATS_MODULES_MAX;

	family(&o, "satchel_start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	sample(&o, "satchel_start_time_seconds", "", m->start_time);

	family(&o, "satchel_logins_total", "counter",
	    "Logins checked by the auth pool, by result and auth module.");
	for (i = 0; i < nmod; i++) {
		module_label(m->modules[i], STATS_MODULE_NAME, mod,
		    sizeof(mod));
		for (j = 0; j < STATS_RESULTS; j++) {
			(void)snprintf(labels, sizeof(labels),
			    "result=\"%s\",module=\"%s\"", result_names[j],
			    mod);
			sample(&o, "satchel_logins_total", labels,
			    a->logins[i][j]);
		}
	}

	family(&o, "satchel_auth_duration_seconds", "histogram",
	    "Time the auth pool took to check a login (before any failure "
	    "delay), by auth module.");
	for (i = 0; i < nmod; i++) {
		module_label(m->modules[i], STATS_MODULE_NAME, mod,
		    sizeof(mod));
		cum = 0;
		for (k = 0; k < STATS_BUCKETS; k++) {
			cum += a->bucket[i][k];
			(void)snprintf(labels, sizeof(labels),
			    "module=\"%s\",le=\"%s\"", mod, bucket_le[k]);
			sample(&o, "satchel_auth_duration_seconds_bucket",
			    labels, cum);
		}
		cum += a->bucket[i][STATS_BUCKETS];
		(void)snprintf(labels, sizeof(labels),
		    "module=\"%s\",le=\"+Inf\"", mod);
		sample(&o, "satchel_auth_duration_seconds_bucket", labels,
		    cum);
		(void)snprintf(labels, sizeof(labels), "module=\"%s\"", mod);
		sample(&o, "satchel_auth_duration_seconds_count", labels,
		    cum);
		out_printf(&o, "satchel_auth_duration_seconds_sum{%s} "
		    "%llu.%03llu\n", labels,
		    (unsigned long long)(a->sum_ms[i] / 1000),
		    (unsigned long long)(a->sum_ms[i] % 1000));
	}

	family(&o, "satchel_sessions", "gauge",
	    "Sessions under way, by state.");
	for (i = 0; i < sizeof(session_states) / sizeof(session_states[0]);
	    i++) {
		(void)snprintf(labels, sizeof(labels), "state=\"%s\"",
		    session_states[i].name);
		sample(&o, "satchel_sessions", labels,
		    m->states[session_states[i].sb]);
	}

	family(&o, "satchel_workers", "gauge",
	    "Worker processes, busy (serving a session) or idle.");
	sample(&o, "satchel_workers", "state=\"busy\"", m->workers_busy);
	sample(&o, "satchel_workers", "state=\"idle\"", m->workers_idle);
	family(&o, "satchel_workers_max", "gauge",
	    "The workers_max setting.");
	sample(&o, "satchel_workers_max", "", m->workers_max);
	family(&o, "satchel_auth_processes", "gauge",
	    "Auth pool processes running.");
	sample(&o, "satchel_auth_processes", "", m->auth_processes);
	spare = 0;
	for (i = 0; i < STATS_AUTHPROC_MAX; i++)
		if (a->procs[i].pid != 0)
			spare += a->procs[i].spare;
	family(&o, "satchel_agents_spare", "gauge",
	    "Spare mailbox agents, ready for a login.");
	sample(&o, "satchel_agents_spare", "", spare);

	family(&o, "satchel_sessions_ended_total", "counter",
	    "Sessions that ended.");
	sample(&o, "satchel_sessions_ended_total", "", w->sessions);
	family(&o, "satchel_received_bytes_total", "counter",
	    "Bytes received from clients, in ended sessions.");
	sample(&o, "satchel_received_bytes_total", "", w->bytes_in);
	family(&o, "satchel_sent_bytes_total", "counter",
	    "Bytes sent to clients, in ended sessions.");
	sample(&o, "satchel_sent_bytes_total", "", w->bytes_out);
	family(&o, "satchel_retr_total", "counter",
	    "Messages sent by RETR, in ended sessions.");
	sample(&o, "satchel_retr_total", "", w->retr);
	family(&o, "satchel_retr_bytes_total", "counter",
	    "Sizes of the messages sent by RETR.");
	sample(&o, "satchel_retr_bytes_total", "", w->retr_bytes);
	family(&o, "satchel_dele_total", "counter",
	    "Messages deleted (DELE, committed by QUIT).");
	sample(&o, "satchel_dele_total", "", w->dele);
	family(&o, "satchel_dele_bytes_total", "counter",
	    "Sizes of the messages deleted.");
	sample(&o, "satchel_dele_bytes_total", "", w->dele_bytes);
	family(&o, "satchel_lock_conflicts_total", "counter",
	    "Logins refused with [IN-USE]: the mailbox was locked.");
	sample(&o, "satchel_lock_conflicts_total", "", w->in_use);

	family(&o, "satchel_tls_sessions_total", "counter",
	    "TLS handshakes completed (implicit TLS and STLS), by version.");
	for (i = 0; i < STATS_TLS_N; i++) {
		(void)snprintf(labels, sizeof(labels), "version=\"%s\"",
		    tls_names[i]);
		sample(&o, "satchel_tls_sessions_total", labels, w->tls[i]);
	}

	family(&o, "satchel_limits_total", "counter",
	    "Connections or logins refused by a limit, by the limit's "
	    "setting.");
	for (i = 0; i < STATS_LIMITS; i++) {
		(void)snprintf(labels, sizeof(labels), "limit=\"%s\"",
		    limit_names[i]);
		count = m->limits[i] + w->limits[i];
		sample(&o, "satchel_limits_total", labels, count);
	}

	family(&o, "satchel_stats_restarts_total", "counter",
	    "Times the master restarted the stats process.");
	sample(&o, "satchel_stats_restarts_total", "", m->stats_restarts);

	if (openmetrics)
		out_printf(&o, "# EOF\n");
	return o.err ? -1 : 0;
}
