/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * stats_shm.h -- the counters behind the metrics endpoint (metrics_listen)
 * and the pure parts of the stats process: the OpenMetrics/Prometheus
 * text renderer and the HTTP request parser.
 *
 * The counters live in shared memory that the master maps before it
 * forks anything (MAP_SHARED | MAP_ANONYMOUS), one mapping per role:
 *
 *	master	pool sizes, sessions by state (from the scoreboard, once a
 *		tick), limits the master hits, the auth module names
 *	auth	logins by module and result, the auth latency histogram,
 *		spare mailbox agents per auth process
 *	worker	bytes, RETR and DELE counts, IN-USE, TLS versions, limits
 *
 * Every child keeps only the mapping of its own role and unmaps the
 * others (stats_keep()); an anonymous shared mapping, once unmapped,
 * cannot be mapped again.  The stats process keeps all of them, read
 * only.  Writers use relaxed atomic adds; the stats process copies a
 * snapshot with relaxed loads before rendering.
 *
 * Caution: a worker runs code that parses client bytes and may be
 * compromised.  It can then write anything into the worker section
 * (all workers share it), and nothing else: the renderer treats every
 * value as a plain number, uses no value as an index or a length, and
 * takes label values only from its own tables (module names from the
 * master's section, filtered to [A-Za-z0-9_.-]).  So a compromised
 * worker can falsify the worker counters, never crash or steer the
 * stats process.  Runs with any privileges (pure code and memory).
 */
#ifndef SATCHEL_STATS_SHM_H
#define SATCHEL_STATS_SHM_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct scoreboard;

#define STATS_MODULES_MAX	8	/* module names kept, ever */
#define STATS_MODULE_NAME	32
#define STATS_AUTHPROC_MAX	64	/* conf: auth_processes <= 64 */
#define STATS_STATES		8	/* SB_FREE .. SB_EXITING */

/* Login results, the label result="...". */
#define STATS_RES_OK		0
#define STATS_RES_FAIL		1
#define STATS_RES_TEMPFAIL	2
#define STATS_RES_ERROR		3
#define STATS_RESULTS		4

/* TLS versions of sessions, tls_version="...". */
#define STATS_TLS_12		0
#define STATS_TLS_13		1
#define STATS_TLS_OTHER		2
#define STATS_TLS_N		3

/* Limits by name, limit="..." (see stats_limit_names in stats.c). */
#define STATS_LIMITS		8

/* satchel_auth_duration_seconds: upper bounds in ms, then +Inf. */
#define STATS_BUCKETS		12

struct stats_master {
	uint64_t	 start_time;		/* seconds since the epoch */
	uint32_t	 nmodules;
	char		 modules[STATS_MODULES_MAX][STATS_MODULE_NAME];
	uint32_t	 states[STATS_STATES];	/* workers by state */
	uint32_t	 workers_busy, workers_idle, workers_max;
	uint32_t	 auth_processes;
	uint64_t	 limits[STATS_LIMITS];
	uint64_t	 stats_restarts;
};

struct stats_auth {
	uint64_t	 logins[STATS_MODULES_MAX][STATS_RESULTS];
	uint64_t	 bucket[STATS_MODULES_MAX][STATS_BUCKETS + 1];
	uint64_t	 sum_ms[STATS_MODULES_MAX];
	struct {
		int32_t	 pid;
		uint32_t spare;
	}		 procs[STATS_AUTHPROC_MAX];
};

struct stats_worker {
	uint64_t	 sessions;	/* ended */
	uint64_t	 bytes_in, bytes_out;
	uint64_t	 retr, retr_bytes;
	uint64_t	 dele, dele_bytes;	/* committed at QUIT */
	uint64_t	 in_use;
	uint64_t	 tls[STATS_TLS_N];
	uint64_t	 limits[STATS_LIMITS];
};

/* A copy of every section, as the stats process renders it. */
struct stats_snapshot {
	struct stats_master	 m;
	struct stats_auth	 a;
	struct stats_worker	 w;
	uint64_t		 now;	/* seconds since the epoch */
};

/* Roles for stats_keep(). */
#define STATS_ROLE_MASTER	0
#define STATS_ROLE_WORKER	1
#define STATS_ROLE_AUTH		2
#define STATS_ROLE_READER	3	/* the stats process */
#define STATS_ROLE_NONE		4	/* agents, key process */

/*
 * In the master, before any fork: map the three sections.  0, or -1
 * (logged).  Until it is called every hook below does nothing.
 */
int	 stats_map(void);
/* In a child just forked: unmap what role must not write (see above). */
void	 stats_keep(int role);
/* Whether the sections are mapped (metrics are on). */
int	 stats_enabled(void);

/* Hooks; each does nothing when metrics are off or not its role's. */
void	 stats_login(const char *module, int result, uint64_t ms);
void	 stats_auth_spare(uint32_t spare);
void	 stats_session(uint64_t retr, uint64_t retr_bytes, uint64_t dele,
	    uint64_t dele_bytes, uint64_t in, uint64_t out);
void	 stats_in_use(void);
void	 stats_tls(const char *version);	/* "TLSv1.3/...": a prefix */
void	 stats_limit(const char *name);
/* Master: the module names of the running config; the pool, a tick. */
void	 stats_modules(char *const *names, size_t n);
void	 stats_pool(const struct scoreboard *sb, uint32_t busy,
	    uint32_t idle, uint32_t workers_max, uint32_t auth);
void	 stats_reaped(int pid);
void	 stats_restarted(void);

/* Stats process: copy every section with relaxed loads. */
void	 stats_snapshot(struct stats_snapshot *snap);

/*
 * Render snap as Prometheus text (version 0.0.4), or as OpenMetrics
 * text 1.0.0 when openmetrics (ends with "# EOF").  0, or -1 when out
 * is full.  Pure: any values, any names.
 */
int	 stats_render(const struct stats_snapshot *snap, int openmetrics,
	    struct buf *out);
/* The index of a limit name, -1 if it is not one we count. */
int	 stats_limit_index(const char *name);
const char *stats_limit_name(int i);

/* ---- the HTTP request parser (stats process; fuzzed) ---- */

#define STATS_HTTP_MAX		4096	/* a whole request head */

#define STATS_HTTP_GET		1
#define STATS_HTTP_HEAD		2
#define STATS_HTTP_OTHER	3	/* a method we answer 405 */

struct stats_http_req {
	int	 method;
	int	 minor;		/* HTTP/1.minor */
	int	 metrics;	/* the path is /metrics (query ignored) */
	int	 openmetrics;	/* Accept asks for application/openmetrics-text */
	int	 keepalive;	/* 1.1 without "Connection: close" */
};

/*
 * Parse the head of an HTTP/1.0 or 1.1 request, p[0..len).  Returns 1
 * when the head is complete and valid (*req filled, *used_r the bytes
 * of the head), 0 when more bytes are needed (len below
 * STATS_HTTP_MAX), -1 when it is malformed or too long.  Bare LF ends
 * lines as well as CRLF.  A body is refused (Content-Length other than
 * 0, or Transfer-Encoding).
 */
int	 stats_http_parse(const char *p, size_t len,
	    struct stats_http_req *req, size_t *used_r);

#endif /* SATCHEL_STATS_SHM_H */
