/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent.c -- the mailbox agent.  Forked as a spare by the agent spawner
 * (root, holding nothing secret), it waits on its control socket for
 * AGENT_START from the auth process: the user, the storage module and
 * path, the uid, gid and groups, and the worker's socket.  It drops to
 * that uid, gid and groups for good, opens the mailbox through the
 * storage module (which takes the session lock and scans), and answers
 * the worker's few requests from a table: list once, open a message any
 * number of times (answered with a file descriptor, so message bytes
 * never cross the socket), marks, and commit once.  Anything else ends
 * the session.  If the worker goes away without a commit, nothing is
 * deleted, and the kernel releases the lock even if the agent is killed.
 *
 * After a session it tells the auth process it is idle and may be given
 * a later session, but only of the very same uid, gid and groups (it
 * could not become anything else: it has no privileges left).  Nothing
 * of a session survives into the next: the mailbox is closed (lock
 * released), the session's state is wiped and freed.  What an agent can
 * read is what its uid can read, so serving several users of one uid
 * (every virtual user is "vmail") gives it nothing new.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "agent.h"
#include "conf.h"
#include "core.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "msg.h"
#include "priv.h"
#include "privsep.h"
#include "stats_shm.h"
#include "auth_fail.h"
#include "sandbox.h"
#include "compat/poison.h"


struct agent {
	int					 sock;
	const struct satchel_storage_ops	*ops;
	void					*mbox;
	size_t					 count;
	uint8_t					*marks;
	const char				*session;
	char					 user[128];	/* escaped */
	char					 session_id[MSG_SESSION_LEN + 1];
	int					 listed;
	int					 committed;
};

struct agent_request {
	uint32_t	 type;
	int		 max_uses;	/* 0: any number */
	int		 (*handler)(struct agent *, struct privsep_msg *);
};

/* lock_conflict = takeover (set in agent_main from the config). */
static int agent_takeover;
#define AGENT_TAKEOVER_MS	2000
#define AGENT_TAKEOVER_STEP_MS	25

static int agent_list(struct agent *, struct privsep_msg *);
static int agent_takeover_wait(int, struct module *,
    const struct satchel_mailbox_ref *, struct agent *, const char **);
static int agent_open(struct agent *, struct privsep_msg *);
static int agent_marks(struct agent *, struct privsep_msg *);
static int agent_commit(struct agent *, struct privsep_msg *);

static const struct agent_request agent_requests[] = {
	{ MSG_MBOX_LIST,	1, agent_list },
	{ MSG_MBOX_OPEN,	0, agent_open },
	{ MSG_MBOX_MARKS,	0, agent_marks },
	{ MSG_MBOX_COMMIT,	1, agent_commit },
};

static int
agent_list(struct agent *a, struct privsep_msg *m)
{
	static unsigned char out[PRIVSEP_MSG_MAX];
	struct satchel_msginfo info;
	struct pack pk;
	size_t i, start = 0;
	uint32_t n = 0;

	if (m->len != 0)
		return -1;
	pack_init(&pk, out, sizeof(out));
	pack_u32(&pk, 0);
	for (i = 0; i < a->count; i++) {
		memset(&info, 0, sizeof(info));
		if (a->ops->info(a->mbox, i, &info) != 0)
			return -1;
		info.uid[SATCHEL_UID_MAX] = '\0';
		/* Room for one more entry?  Else send this batch. */
		if (pk.len + 8 + 4 + strlen(info.uid) > sizeof(out)) {
			memcpy(out, &n, sizeof(n));
			if (privsep_send(a->sock, MSG_MBOX_LIST_BATCH, out,
			    pk.len, -1) == -1)
				return -1;
			pack_init(&pk, out, sizeof(out));
			pack_u32(&pk, 0);
			n = 0;
			start = i;
		}
		pack_u64(&pk, info.size);
		pack_str(&pk, info.uid);
		n++;
	}
	(void)start;
	if (n > 0) {
		memcpy(out, &n, sizeof(n));
		if (privsep_send(a->sock, MSG_MBOX_LIST_BATCH, out, pk.len,
		    -1) == -1)
			return -1;
	}
	a->listed = 1;
	return privsep_send(a->sock, MSG_MBOX_LIST_END, NULL, 0, -1);
}

static int
agent_open(struct agent *a, struct privsep_msg *m)
{
	struct satchel_msgref ref;
	struct msg_mbox_open rq;
	struct msg_mbox_msg rp;
	const char *err = "";
	int r;

	if (msg_get_mbox_open(m, &rq) == -1 || rq.index >= a->count)
		return -1;
	memset(&ref, 0, sizeof(ref));
	ref.fd = -1;
	r = a->ops->message(a->mbox, (size_t)rq.index, &ref, &err);
	if (r == 0 && ref.fd == -1)
		r = -1;
	if (r != 0 && ref.fd != -1) {
		close(ref.fd);
		ref.fd = -1;
	}
	if (r != 0)
		log_warnx("session=%s event=open user=%s msg=%llu "
		    "result=%s error=\"%s\"", a->session, a->user,
		    (unsigned long long)rq.index + 1, r == 1 ? "vanished" :
		    "error", err != NULL ? err : "");
	memset(&rp, 0, sizeof(rp));
	rp.status = r == 0 ? MBOX_ST_OK : r == 1 ? MBOX_ST_VANISHED :
	    MBOX_ST_ERROR;
	rp.offset = (uint64_t)ref.offset;
	rp.length = ref.length;
	rp.flags = ref.flags;
	r = msg_send_mbox_msg(a->sock, &rp, ref.fd);
	if (ref.fd != -1)
		close(ref.fd);
	return r;
}

static int
agent_marks(struct agent *a, struct privsep_msg *m)
{
	struct unpack u;
	uint64_t start;
	uint32_t n, i;

	unpack_init(&u, m->data, m->len);
	start = unpack_u64(&u);
	n = unpack_u32(&u);
	if (u.err || start > a->count || n > a->count - start ||
	    n != m->len - u.off)
		return -1;
	unpack_bytes(&u, a->marks + start, n);
	if (unpack_done(&u) == -1)
		return -1;
	for (i = 0; i < n; i++)
		a->marks[start + i] &= SATCHEL_MARK_DELETED |
		    SATCHEL_MARK_SEEN;
	return 0;
}

static int
agent_commit(struct agent *a, struct privsep_msg *m)
{
	struct msg_mbox_commit_result rp;
	const char *err = NULL;
	int r;

	if (m->len != 0)
		return -1;
	r = a->ops->commit(a->mbox, a->marks, a->count, &err);
	if (r != 0)
		log_warnx("session=%s event=update user=%s result=error "
		    "error=\"%s\"", a->session, a->user,
		    err != NULL ? err : "");
	a->committed = 1;
	/*
	 * Release the session lock before the worker says +OK (RFC 1939
	 * section 6), so a client that logs in again at once is not told
	 * [IN-USE].
	 */
	a->ops->close(a->mbox);
	a->mbox = NULL;
	memset(&rp, 0, sizeof(rp));
	rp.status = r == 0 ? MBOX_ST_OK : MBOX_ST_ERROR;
	return msg_send_mbox_commit_result(a->sock, &rp, -1);
}

/*
 * The home directory of a mailbox below it (maildir:%h/Maildir), as the
 * mail user.  When it is missing, find the first directory of its path
 * that is (the one that failed: /var/vmail/example.org, not .../bob) and,
 * with mail_home_create = yes, make it and the rest, mode 0700, as the
 * mail user (Dovecot's way); else log that directory.  Returns 0 when the
 * home exists (or was made), -1 with the reason in errbuf.
 */
static int
agent_home(const char *home, const char *path, int create, char *errbuf,
    size_t errsz)
{
	char dir[SATCHEL_PATH_MAX + 1], *p;
	size_t hl = strlen(home);
	struct stat sb;
	int saved;

	errbuf[0] = '\0';
	if (home[0] != '/' || strncmp(path, home, hl) != 0 ||
	    (path[hl] != '/' && path[hl] != '\0') ||
	    strlcpy(dir, home, sizeof(dir)) >= sizeof(dir))
		return 0;	/* not below the home: not needed */
	if (stat(home, &sb) == 0)
		return 0;
	if (errno != ENOENT) {
		saved = errno;
		(void)snprintf(errbuf, errsz, "home %s: %s", home,
		    strerror(saved));
		return -1;
	}
	/* Walk down from the root to the first component that is missing. */
	for (p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		saved = *p;
		*p = '\0';
		if (stat(dir, &sb) == -1) {
			if (errno != ENOENT) {
				(void)snprintf(errbuf, errsz, "home %s: %s: %s",
				    home, dir, strerror(errno));
				return -1;
			}
			if (!create) {
				(void)snprintf(errbuf, errsz, "home %s is "
				    "missing: %s does not exist (set "
				    "mail_home_create = yes to create homes)",
				    home, dir);
				return -1;
			}
			if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
				(void)snprintf(errbuf, errsz, "home %s: "
				    "mkdir %s: %s", home, dir, strerror(errno));
				return -1;
			}
			log_info("agent: created %s (home %s)", dir, home);
		} else if (!S_ISDIR(sb.st_mode)) {
			(void)snprintf(errbuf, errsz, "home %s: %s is not a "
			    "directory", home, dir);
			return -1;
		}
		if (saved == '\0')
			break;
		*p = (char)saved;
	}
	return 0;
}

/*
 * One session: open the mailbox at st->path for the worker on sock and
 * serve it until commit or EOF.  Everything it allocated is freed and
 * wiped before it returns.  (agent.h: also driven by the fuzz target.)
 */
void
agent_session(int sock, struct module *mod, const struct msg_agent_start *st,
    int home_create)
{
	char homeerr[2 * SATCHEL_PATH_MAX + 128];
	static struct privsep_msg m;
	struct satchel_mailbox_ref ref;
	struct satchel_msginfo info;
	struct msg_mbox_hello hello;
	struct agent a;
	const char *err = NULL;
	int uses[nitems(agent_requests)];
	uint64_t total = 0;
	size_t i;
	int r, status;

	memset(&a, 0, sizeof(a));
	memset(uses, 0, sizeof(uses));
	a.sock = sock;
	a.ops = mod->ops;
	strlcpy(a.session_id, st->session, sizeof(a.session_id));
	a.session = a.session_id;
	log_vis(a.user, sizeof(a.user), st->user, strlen(st->user));
	setproctitle_fmt("satcheld: agent %s", a.user);
	core_set_module_name(mod->desc->name);

	memset(&ref, 0, sizeof(ref));
	ref.driver = mod->desc->name;
	ref.path = st->path;
	ref.user = st->user;
	ref.home = st->home;	/* ABI 1.2: no symlink below it */
	if (agent_home(st->home, st->path, home_create, homeerr,
	    sizeof(homeerr)) == -1) {
		status = SATCHEL_MBOX_ERROR;
		err = homeerr;
	} else
		status = a.ops->open(mod->ctx, &ref, &a.mbox, &err);
	if (status == SATCHEL_MBOX_INUSE && agent_takeover)
		status = agent_takeover_wait(sock, mod, &ref, &a, &err);
	if (status == SATCHEL_MBOX_OK) {
		a.count = a.ops->count(a.mbox);
		if ((a.marks = calloc(a.count + 1, 1)) == NULL)
			status = SATCHEL_MBOX_TEMPFAIL;
		for (i = 0; i < a.count && status == SATCHEL_MBOX_OK; i++) {
			if (a.ops->info(a.mbox, i, &info) != 0)
				status = SATCHEL_MBOX_TEMPFAIL;
			total += info.size;
		}
	} else if (status != SATCHEL_MBOX_INUSE)
		log_warnx("session=%s event=mailbox user=%s path=%s "
		    "result=error error=\"%s\"", a.session, a.user, st->path,
		    err != NULL ? err : "");
	memset(&hello, 0, sizeof(hello));
	hello.status = (uint32_t)status;
	hello.count = a.count;
	hello.total = total;
	if (msg_send_mbox_hello(sock, &hello, -1) == -1 ||
	    status != SATCHEL_MBOX_OK)
		goto done;

	while (!a.committed) {
		r = privsep_recv(sock, &m, -1);
		if (r != 0)
			break;	/* the worker went away: commit nothing */
		for (i = 0; i < nitems(agent_requests); i++)
			if (agent_requests[i].type == m.type)
				break;
		if (m.fd != -1) {
			close(m.fd);
			m.fd = -1;
			i = nitems(agent_requests);
		}
		if (i == nitems(agent_requests) ||
		    (agent_requests[i].max_uses > 0 &&
		    uses[i] >= agent_requests[i].max_uses) ||
		    (m.type != MSG_MBOX_LIST && !a.listed)) {
			log_warnx("session=%s agent: request %s not "
			    "permitted: ending", a.session,
			    msg_type_name(m.type));
			break;
		}
		uses[i]++;
		if (agent_requests[i].handler(&a, &m) == -1) {
			log_warnx("session=%s agent: request %s failed: "
			    "ending", a.session, msg_type_name(m.type));
			break;
		}
	}
done:
	if (a.mbox != NULL)
		a.ops->close(a.mbox);
	if (a.marks != NULL) {
		explicit_bzero(a.marks, a.count + 1);
		free(a.marks);
	}
	explicit_bzero(&m, sizeof(m));
	explicit_bzero(&a, sizeof(a));
	core_set_module_name("core");
	setproctitle_fmt("satcheld: agent (idle)");
}

/*
 * lock_conflict = takeover: tell the worker (MSG_MBOX_WAIT), which asks
 * the master to end the older session without UPDATE; meanwhile try the
 * lock again every AGENT_TAKEOVER_STEP_MS, for AGENT_TAKEOVER_MS at
 * most.  Returns the last open()'s SATCHEL_MBOX_*.
 */
static int
agent_takeover_wait(int sock, struct module *mod,
    const struct satchel_mailbox_ref *ref, struct agent *a,
    const char **errp)
{
	struct timespec ts = { 0, AGENT_TAKEOVER_STEP_MS * 1000000L };
	int status = SATCHEL_MBOX_INUSE, waited;

	if (privsep_send(sock, MSG_MBOX_WAIT, NULL, 0, -1) == -1)
		return SATCHEL_MBOX_TEMPFAIL;
	for (waited = 0; waited < AGENT_TAKEOVER_MS &&
	    status == SATCHEL_MBOX_INUSE; waited += AGENT_TAKEOVER_STEP_MS) {
		(void)nanosleep(&ts, NULL);
		status = a->ops->open(mod->ctx, ref, &a->mbox, errp);
	}
	if (status == SATCHEL_MBOX_OK)
		log_info("session=%s event=takeover user=%s result=locked "
		    "waited_ms=%d", a->session, a->user, waited);
	return status;
}

static int
agent_same_id(const struct msg_agent_start *x, const struct msg_agent_start *y)
{
	return x->uid == y->uid && x->gid == y->gid &&
	    x->ngroups == y->ngroups && memcmp(x->groups, y->groups,
	    x->ngroups * sizeof(x->groups[0])) == 0;
}

void
agent_main(int ctl, struct satcheld *s)
{
	static struct privsep_msg m;
	struct msg_agent_start st, first;
	struct msg_agent_idle idle;
	struct module *mod;
	struct sigaction sa;
	gid_t groups[MSG_GROUPS_MAX];
	uint32_t served = 0, i;
	int sock;

	log_procname("agent");
	setproctitle_fmt("satcheld: agent (spare)");
	/* A spare dies with its spawner; a dropped agent does not. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() == 1)
		_exit(0);
	auth_fail_forget();
	stats_keep(STATS_ROLE_NONE);	/* no counter of the auth pool's */
	/*
	 * syslog's socket first: it may be descriptor 3, which the dup2()
	 * below replaces, and log_init() would then close our socket.
	 */
	/* Nothing inherited stays open but ctl and stdin/out/err. */
	if ((ctl = priv_keep_fd(ctl, s->foreground ? NULL :
	    s->cf->syslog_facility)) == -1)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	agent_takeover = s->cf->lock_conflict == LOCK_CONFLICT_TAKEOVER;
	memset(&first, 0, sizeof(first));
	for (;;) {
		if (privsep_recv(ctl, &m, -1) != 0)
			break;	/* the auth process retired us */
		if (m.fd == -1 || msg_get_agent_start(&m, &st) == -1 ||
		    st.ngroups < 1 || st.groups[0] != st.gid ||
		    (mod = module_find(s->storage, st.driver)) == NULL) {
			log_warnx("agent: bad AGENT_START: exiting");
			break;
		}
		sock = m.fd;
		m.fd = -1;
		if (served == 0) {
			for (i = 0; i < st.ngroups; i++)
				groups[i] = (gid_t)st.groups[i];
			if (s->privileged && priv_drop(NULL, (uid_t)st.uid,
			    (gid_t)st.gid, groups, st.ngroups) == -1)
				_exit(1);
			if (!s->privileged && priv_drop(NULL, geteuid(),
			    getegid(), NULL, 0) == -1)
				_exit(1);
			/* Now the mail user's: outlive the spawner. */
			(void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
			/* sandbox.c: from here on, the agent's allow-list. */
			if (s->cf->sandbox && sandbox_agent(0) == -1)
				_exit(1);
			first = st;
		} else if (!agent_same_id(&first, &st)) {
			/* Never another uid: the auth process erred. */
			log_warnx("agent: asked to serve uid %lu as uid %lu: "
			    "refused", (unsigned long)st.uid,
			    (unsigned long)first.uid);
			close(sock);
			break;
		}
		agent_session(sock, mod, &st, s->cf->mail_home_create);
		close(sock);
		explicit_bzero(&st, sizeof(st));
		served++;
		memset(&idle, 0, sizeof(idle));
		idle.sessions = served;
		if (served >= s->cf->agent_max_sessions ||
		    msg_send_agent_idle(ctl, &idle, -1) == -1)
			break;
	}
	_exit(0);
}
