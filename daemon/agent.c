/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent.c -- the mailbox agent.  Forked by an auth process (root) for
 * one session, it drops to the mail user (setgroups with the optional
 * extra groups, setresgid, setresuid), opens the mailbox through the
 * storage module (which takes the session lock and scans), and then
 * answers the worker's few requests from a table: list once, open a
 * message any number of times (answered with a file descriptor, so
 * message bytes never cross the socket), marks, and commit once.
 * Anything else ends the agent.  If the worker goes away without a
 * commit, nothing is deleted: the agent closes the mailbox and exits,
 * and the kernel releases the lock even if the agent is killed.
 *
 * Caution: the agent inherited the auth modules' handles.  It never
 * touches them and leaves with _exit() so no library destructor runs.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "agent.h"
#include "conf.h"
#include "core.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "privsep.h"
#include "scoreboard.h"
#include "compat/poison.h"

#define AGENT_EXTRA_GROUPS	8

struct agent {
	int					 sock;
	const struct satchel_storage_ops	*ops;
	void					*mbox;
	size_t					 count;
	uint8_t					*marks;
	const char				*session;
	char					 user[128];	/* escaped */
	int					 listed;
	int					 committed;
};

struct agent_request {
	uint32_t	 type;
	int		 max_uses;	/* 0: any number */
	int		 (*handler)(struct agent *, struct privsep_msg *);
};

static int agent_list(struct agent *, struct privsep_msg *);
static int agent_open(struct agent *, struct privsep_msg *);
static int agent_marks(struct agent *, struct privsep_msg *);
static int agent_commit(struct agent *, struct privsep_msg *);

static const struct agent_request agent_requests[] = {
	{ PS_MBOX_LIST,		1, agent_list },
	{ PS_MBOX_OPEN,		0, agent_open },
	{ PS_MBOX_MARKS,	0, agent_marks },
	{ PS_MBOX_COMMIT,	1, agent_commit },
};

static int
agent_drop(const struct satchel_user *user)
{
	struct satcheld *s = sd;
	gid_t groups[AGENT_EXTRA_GROUPS + 1];
	char list[256], *g, *save;
	struct group *gr;
	int ngroups = 0;
	uid_t ru, eu, su;

	if (!s->privileged)
		return 0;
	groups[ngroups++] = user->gid;
	strlcpy(list, s->cf->mail_extra_groups, sizeof(list));
	for (g = strtok_r(list, " ,", &save); g != NULL;
	    g = strtok_r(NULL, " ,", &save)) {
		if (ngroups > AGENT_EXTRA_GROUPS)
			break;
		if ((gr = getgrnam(g)) == NULL) {
			log_warnx("mail_extra_groups: no group '%s'", g);
			return -1;
		}
		groups[ngroups++] = gr->gr_gid;
	}
	if (setgroups((size_t)ngroups, groups) == -1 ||
	    setresgid(user->gid, user->gid, user->gid) == -1 ||
	    setresuid(user->uid, user->uid, user->uid) == -1) {
		log_warn("agent: dropping to uid %lu gid %lu",
		    (unsigned long)user->uid, (unsigned long)user->gid);
		return -1;
	}
	if (getresuid(&ru, &eu, &su) == -1 || ru != user->uid ||
	    eu != user->uid || su != user->uid || setuid(0) != -1) {
		log_warnx("agent: privileges were not dropped");
		return -1;
	}
	return 0;
}

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
			if (privsep_send(a->sock, PS_MBOX_LIST_BATCH, out,
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
		if (privsep_send(a->sock, PS_MBOX_LIST_BATCH, out, pk.len,
		    -1) == -1)
			return -1;
	}
	a->listed = 1;
	return privsep_send(a->sock, PS_MBOX_LIST_END, NULL, 0, -1);
}

static int
agent_open(struct agent *a, struct privsep_msg *m)
{
	struct satchel_msgref ref;
	struct unpack u;
	struct pack pk;
	unsigned char out[512];
	const char *err = "";
	uint64_t idx;
	int r;

	unpack_init(&u, m->data, m->len);
	idx = unpack_u64(&u);
	if (unpack_done(&u) == -1 || idx >= a->count)
		return -1;
	memset(&ref, 0, sizeof(ref));
	ref.fd = -1;
	r = a->ops->message(a->mbox, (size_t)idx, &ref, &err);
	if (r == 0 && ref.fd == -1)
		r = -1;
	if (r != 0 && ref.fd != -1) {
		close(ref.fd);
		ref.fd = -1;
	}
	if (r != 0)
		log_warnx("session=%s event=open user=%s msg=%llu "
		    "result=%s error=\"%s\"", a->session, a->user,
		    (unsigned long long)idx + 1, r == 1 ? "vanished" : "error",
		    err != NULL ? err : "");
	pack_init(&pk, out, sizeof(out));
	pack_u32(&pk, r == 0 ? 0 : r == 1 ? 1 : 2);
	pack_u64(&pk, (uint64_t)ref.offset);
	pack_u64(&pk, ref.length);
	pack_u32(&pk, ref.flags);
	pack_str(&pk, "");
	r = pk.err ? -1 : privsep_send(a->sock, PS_MBOX_MSG, out, pk.len,
	    ref.fd);
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
	unsigned char out[512];
	const char *err = NULL;
	struct pack pk;
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
	pack_init(&pk, out, sizeof(out));
	pack_u32(&pk, r == 0 ? 0 : 1);
	pack_str(&pk, "");
	return privsep_send(a->sock, PS_MBOX_COMMIT_RESULT, out, pk.len, -1);
}

void
agent_main(int sock, struct module *mod, const char *path,
    const struct satchel_user *user, const char *session)
{
	static struct privsep_msg m;
	struct satchel_mailbox_ref ref;
	struct agent a;
	struct pack pk;
	unsigned char out[512];
	const char *err = NULL;
	int uses[sizeof(agent_requests) / sizeof(agent_requests[0])];
	size_t i;
	uint64_t total = 0;
	struct satchel_msginfo info;
	int r, status;
	struct sigaction sa;

	log_procname("agent");
	sb_forget_fails(sd->sb);
	/*
	 * Close everything inherited but the worker's socket and stderr:
	 * the auth modules' connections (a MySQL socket) and the accepted
	 * auth request must not stay open in a process that runs as the
	 * mail user.  Closing a descriptor never ends the parent's
	 * session; calling the library's close would.
	 */
	if (sock != 3) {
		if (dup2(sock, 3) == -1)
			_exit(1);
		close(sock);
		sock = 3;
	}
	if (close_range(4, ~0U, 0) == -1)
		_exit(1);
	if (!sd->foreground)
		log_init(0, sd->cf->syslog_facility, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	memset(&a, 0, sizeof(a));
	memset(uses, 0, sizeof(uses));
	a.sock = sock;
	a.ops = mod->ops;
	a.session = session;
	log_vis(a.user, sizeof(a.user), user->name, strlen(user->name));
	setproctitle_fmt("satcheld: agent %s", a.user);
	core_set_module_name(mod->desc->name);

	if (agent_drop(user) == -1)
		_exit(1);
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

	memset(&ref, 0, sizeof(ref));
	ref.driver = mod->desc->name;
	ref.path = path;
	ref.user = user->name;
	ref.home = user->home;	/* ABI 1.2: no symlink below it */
	status = a.ops->open(mod->ctx, &ref, &a.mbox, &err);
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
		    "result=error error=\"%s\"", session, a.user, path,
		    err != NULL ? err : "");
	pack_init(&pk, out, sizeof(out));
	pack_u32(&pk, (uint32_t)status);
	pack_u64(&pk, a.count);
	pack_u64(&pk, total);
	pack_str(&pk, "");
	if (privsep_send(sock, PS_MBOX_HELLO, out, pk.len, -1) == -1 ||
	    status != SATCHEL_MBOX_OK)
		goto done;

	while (!a.committed) {
		r = privsep_recv(sock, &m, -1);
		if (r != 0)
			break;	/* the worker went away: commit nothing */
		for (i = 0; i < sizeof(agent_requests) /
		    sizeof(agent_requests[0]); i++)
			if (agent_requests[i].type == m.type)
				break;
		if (m.fd != -1) {
			close(m.fd);
			m.fd = -1;
			i = sizeof(agent_requests) / sizeof(agent_requests[0]);
		}
		if (i == sizeof(agent_requests) / sizeof(agent_requests[0]) ||
		    (agent_requests[i].max_uses > 0 &&
		    uses[i] >= agent_requests[i].max_uses) ||
		    (m.type != PS_MBOX_LIST && !a.listed)) {
			log_warnx("session=%s agent: request %u not "
			    "permitted: ending", session, m.type);
			break;
		}
		uses[i]++;
		if (agent_requests[i].handler(&a, &m) == -1) {
			log_warnx("session=%s agent: request %u failed: "
			    "ending", session, m.type);
			break;
		}
	}
done:
	if (a.mbox != NULL)
		a.ops->close(a.mbox);
	_exit(0);
}
