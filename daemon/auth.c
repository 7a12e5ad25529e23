/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth.c -- the auth pool and its client.
 *
 * The auth processes are forked by the master and keep its privileges
 * (root), which PAM and root-only password files need.  Each one accepts
 * on the pool's SOCK_SEQPACKET socket, checks that the peer is a worker
 * (SO_PEERCRED), reads one request, asks the auth modules in the
 * configured order, and answers.  On success it forks the mailbox agent
 * for the user and passes the worker one end of a socketpair to it.
 *
 * Caution: the request comes from the worker, which is untrusted.  Every
 * field is length-checked by the codec and the user name is validated
 * again here before any module sees it.  The agent is forked from this
 * process and so inherits the modules' handles (a MySQL connection); it
 * must never use or close them, which is why it leaves with _exit().
 *
 * auth_send(), auth_continue(), auth_scram_final() and auth_result() at
 * the end of this file are the worker's side.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "agent.h"
#include "auth.h"
#include "conf.h"
#include "core.h"
#include "log.h"
#include "master.h"
#include "md5.h"
#include "module.h"
#include "password.h"
#ifdef HAVE_OPENSSL
#include "scram.h"
#endif
#include "privsep.h"
#include "scoreboard.h"
#include "compat/poison.h"

#define AUTH_FAIL_WINDOW	300	/* seconds a failure is remembered */
#define AUTH_FAIL_STEPS		4	/* delay doubles up to 2^4 x base */
#define AUTH_REQUEST_TIMEOUT_MS	30000
#define AUTH_DELAY_CAP_MS	30000
#define SCRAM_FINAL_MAX		1024

static volatile sig_atomic_t auth_quit;

struct auth_req {
	uint32_t	 type;
	int		 fd;		/* the worker's connection */
	char		 user[SATCHEL_USER_MAX + 1];
	char		 secret[SCRAM_FINAL_MAX];
	char		 extra[256];
	char		 remote[64];
	char		 local[64];
	char		 session[17];
	char		 data[512];	/* SCRAM server-final */
};

static void auth_signal(int);
static void auth_serve(int);
static uint32_t auth_check(struct auth_req *, struct satchel_user *);
static int auth_mail_location(const struct satchel_user *, char *, size_t,
    struct module **);
static int auth_fork_agent(struct module *, const char *,
    const struct satchel_user *, const char *);
static int auth_expand_ok(const char *);

static void
auth_signal(int sig)
{
	auth_quit = 1;
}

/*
 * The spare agent.  A fork on the login path costs several
 * milliseconds on a virtual machine, so each auth process keeps one
 * agent forked ahead of time, waiting on spare_ctl for its session:
 * which storage module, the mailbox path, the user and the worker's
 * socket.  It is a plain fork of this process, exactly what
 * auth_fork_agent() would make, only earlier.
 */
static int spare_ctl = -1;

static void
auth_spare_main(int ctl)
{
	static struct privsep_msg m;
	struct satchel_user user;
	struct module *mod;
	struct unpack u;
	char name[64], path[SATCHEL_PATH_MAX], session[17];
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setproctitle_fmt("satcheld: agent (spare)");
	/* Waits until used, or until the auth process goes away (EOF). */
	if (privsep_recv(ctl, &m, -1) != 0 || m.type != PS_AGENT_START ||
	    m.fd == -1)
		_exit(0);
	memset(&user, 0, sizeof(user));
	unpack_init(&u, m.data, m.len);
	unpack_str(&u, name, sizeof(name));
	unpack_str(&u, path, sizeof(path));
	unpack_str(&u, user.name, sizeof(user.name));
	user.uid = (uid_t)unpack_u32(&u);
	user.gid = (gid_t)unpack_u32(&u);
	unpack_str(&u, user.home, sizeof(user.home));
	unpack_str(&u, session, sizeof(session));
	user.uid_set = user.gid_set = 1;
	if (unpack_done(&u) == -1 ||
	    (mod = module_find(sd->storage, name)) == NULL)
		_exit(1);
	close(ctl);
	agent_main(m.fd, mod, path, &user, session);
}

/* Fork the next spare agent, if there is none. */
static void
auth_spare_fork(void)
{
	int sv[2];

	if (spare_ctl != -1)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return;
	switch (fork()) {
	case -1:
		close(sv[0]);
		close(sv[1]);
		return;
	case 0:
		close(sv[0]);
		close(sd->auth_fd);
		auth_spare_main(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	spare_ctl = sv[0];
}

int
auth_user_valid(const char *user)
{
	size_t i, len = strlen(user);
	int at = 0;

	if (len == 0 || len > SATCHEL_USER_MAX || user[0] == '.' ||
	    user[0] == '@' || strstr(user, "..") != NULL)
		return -1;
	for (i = 0; i < len; i++) {
		char c = user[i];

		if (c == '@') {
			if (at++ > 0 || user[i + 1] == '.' ||
			    user[i + 1] == '\0')
				return -1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._-+='!#$&*^{|}~",
		    c) != NULL))
			return -1;
	}
	return 0;
}

void
auth_main(void)
{
	struct satcheld *s = sd;
	struct sigaction sa;
	struct pollfd pfd;
	const struct satchel_auth_ops *ops;
	size_t i;
	int fd;

	log_procname("auth");
	setproctitle_fmt("satcheld: auth");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = auth_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* Agents are ours: let the kernel reap them. */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);

	for (i = 0; i < s->nauth; i++) {
		ops = s->auth[i]->ops;
		core_set_module_name(s->auth[i]->desc->name);
		if (ops->postfork != NULL && ops->postfork(s->auth[i]->ctx)
		    != 0)
			log_warnx("module %s: postfork failed; it will "
			    "answer temporary failures", s->auth[i]->path);
	}
	core_set_module_name("core");

	auth_spare_fork();
	while (!auth_quit) {
		pfd.fd = s->auth_fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1)
			continue;	/* EINTR: check auth_quit */
		fd = accept4(s->auth_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1)
			continue;
		auth_serve(fd);
		close(fd);
		/* After the reply: the next login finds its agent ready. */
		auth_spare_fork();
	}
	_exit(0);
}

static void
auth_serve(int fd)
{
	static struct privsep_msg m;
	struct satcheld *s = sd;
	struct auth_req req;
	struct satchel_user user;
	struct module *mod = NULL;
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	struct unpack u;
	struct pack pk;
	unsigned char out[1024];
	char path[SATCHEL_PATH_MAX], key[300];
	uint32_t result, delay = 0, fails;
	int agent = -1;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == -1 ||
	    (cred.uid != s->worker_uid && cred.uid != 0)) {
		log_warnx("auth request from uid %ld refused",
		    (long)cred.uid);
		return;
	}
	if (privsep_recv(fd, &m, 10000) != 0)
		return;
	memset(&req, 0, sizeof(req));
	req.type = m.type;
	req.fd = fd;
	unpack_init(&u, m.data, m.len);
	unpack_str(&u, req.user, sizeof(req.user));
	unpack_str(&u, req.secret, sizeof(req.secret));
	unpack_str(&u, req.extra, sizeof(req.extra));
	unpack_str(&u, req.remote, sizeof(req.remote));
	unpack_str(&u, req.local, sizeof(req.local));
	unpack_str(&u, req.session, sizeof(req.session));
	if (m.fd != -1)
		close(m.fd);
	if ((m.type != PS_AUTH_PASS && m.type != PS_AUTH_APOP &&
	    m.type != PS_AUTH_CRAM && m.type != PS_AUTH_SCRAM) ||
	    unpack_done(&u) == -1) {
		log_warnx("malformed auth request from worker pid %ld",
		    (long)cred.pid);
		explicit_bzero(&req, sizeof(req));
		explicit_bzero(&m, sizeof(m));
		return;
	}
	explicit_bzero(m.data, m.len);

	memset(&user, 0, sizeof(user));
	result = auth_check(&req, &user);
	explicit_bzero(req.secret, sizeof(req.secret));

	if (result == SATCHEL_AUTH_OK) {
		if (auth_mail_location(&user, path, sizeof(path), &mod) == -1)
			result = SATCHEL_AUTH_ERROR;
		else if ((agent = auth_fork_agent(mod, path, &user,
		    req.session)) < 0)
			result = agent == -2 ? SATCHEL_AUTH_ERROR :
			    SATCHEL_AUTH_TEMPFAIL;
	}

	/* Count failures per user and per address; both set the delay. */
	(void)snprintf(key, sizeof(key), "u:%s", req.user);
	if (result == SATCHEL_AUTH_OK)
		sb_fail_clear(s->sb, key);
	else if (result == SATCHEL_AUTH_FAIL ||
	    result == SATCHEL_AUTH_ERROR) {
		uint32_t afails;

		fails = sb_fail_add(s->sb, key, AUTH_FAIL_WINDOW);
		(void)snprintf(key, sizeof(key), "a:%s", req.remote);
		afails = sb_fail_add(s->sb, key, AUTH_FAIL_WINDOW);
		if (afails > fails)
			fails = afails;
		if (fails == 0)
			fails = 1;	/* no table: still the base delay */
		if (fails > AUTH_FAIL_STEPS + 1)
			fails = AUTH_FAIL_STEPS + 1;
		delay = s->cf->login_fail_delay_ms << (fails - 1);
		/* Doubling stops at 30 s (or the base, if that is more). */
		if (delay > AUTH_DELAY_CAP_MS && delay >
		    s->cf->login_fail_delay_ms)
			delay = s->cf->login_fail_delay_ms > AUTH_DELAY_CAP_MS ?
			    s->cf->login_fail_delay_ms : AUTH_DELAY_CAP_MS;
	}

	pack_init(&pk, out, sizeof(out));
	pack_u32(&pk, result);
	pack_u32(&pk, delay);
	pack_u32(&pk, result == SATCHEL_AUTH_OK ? (user.login_delay > 0 ?
	    user.login_delay : s->cf->login_delay) : 0);
	pack_str(&pk, result == SATCHEL_AUTH_OK ? user.name : "");
	pack_str(&pk, result == SATCHEL_AUTH_OK ? req.data : "");
	if (pk.err || privsep_send(fd, PS_AUTH_RESULT, out, pk.len,
	    agent) == -1)
		log_warn("auth reply to worker pid %ld", (long)cred.pid);
	if (agent != -1)
		close(agent);
	explicit_bzero(&req, sizeof(req));
}

/*
 * The digest mechanisms (APOP, CRAM-MD5) need the plaintext: compare
 * the client's hex digest with ours in constant time.
 */
static int
auth_digest_ok(struct auth_req *req, const char *cred)
{
	unsigned char digest[16];
	struct md5_ctx md5;
	char hex[33];
	const char *secret;
	int ok;

	if (strncmp(cred, "{PLAIN}", 7) != 0 || strlen(req->secret) != 32)
		return 0;
	secret = cred + 7;
	if (req->type == PS_AUTH_APOP) {
		md5_init(&md5);
		md5_update(&md5, req->extra, strlen(req->extra));
		md5_update(&md5, secret, strlen(secret));
		md5_final(&md5, digest);
	} else
		hmac_md5(secret, strlen(secret), req->extra,
		    strlen(req->extra), digest);
	md5_hex(digest, hex);
	ok = timingsafe_bcmp(hex, req->secret, 32) == 0;
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(digest, sizeof(digest));
	explicit_bzero(&md5, sizeof(md5));
	return ok;
}

/*
 * Ask the modules for a stored credential (lookup), in chain order.
 * Returns the SATCHEL_AUTH_* of the module that knew the user, or
 * NOUSER; on OK the tagged credential is in cred.
 */
static int
auth_lookup_chain(struct satchel_auth_request *ar, struct satchel_user *user,
    char *cred, size_t credsz, size_t *which_r)
{
	const struct satchel_auth_ops *ops;
	struct satcheld *s = sd;
	size_t i;
	int r = SATCHEL_AUTH_NOUSER;

	for (i = 0; i < s->nauth; i++) {
		ops = s->auth[i]->ops;
		if (ops->lookup == NULL)
			continue;
		core_set_module_name(s->auth[i]->desc->name);
		memset(user, 0, sizeof(*user));
		r = ops->lookup(s->auth[i]->ctx, ar, user, cred, credsz);
		core_set_module_name("core");
		*which_r = i;
		if (r != SATCHEL_AUTH_NOUSER)
			break;
	}
	return r;
}

#ifdef HAVE_OPENSSL
/*
 * SCRAM-SHA-256 with the worker relaying: client-first came in the
 * request, server-first goes back as CONTINUE, client-final comes as
 * SCRAM_FINAL.  An unknown user, or one stored as a one-way hash, gets
 * made-up keys, so the exchange looks the same and fails at the proof.
 */
static int
auth_scram(struct auth_req *req, struct satchel_auth_request *ar,
    struct satchel_user *user, size_t *which_r)
{
	static struct privsep_msg m;
	struct scram_server st;
	struct unpack u;
	struct pack pk;
	unsigned char out[SCRAM_MSG_MAX + 16];
	char cred[512], final[SCRAM_FINAL_MAX], sfirst[SCRAM_MSG_MAX];
	int r, known = 0;

	if (scram_client_first(&st, req->secret, strlen(req->secret)) == -1)
		return SATCHEL_AUTH_FAIL;
	strlcpy(req->user, st.user, sizeof(req->user));
	r = SATCHEL_AUTH_NOUSER;
	if (auth_user_valid(st.user) == 0) {
		ar->user = req->user;
		r = auth_lookup_chain(ar, user, cred, sizeof(cred), which_r);
	}
	if (r == SATCHEL_AUTH_TEMPFAIL || r == SATCHEL_AUTH_ERROR)
		return r;
	if (r == SATCHEL_AUTH_OK && strncmp(cred, "{SCRAM-SHA-256}", 15) ==
	    0 && scram_parse_stored(cred + 15, &st.keys) == 0)
		known = 1;
	else if (r == SATCHEL_AUTH_OK && strncmp(cred, "{PLAIN}", 7) == 0) {
		unsigned char salt[16];

		scram_salt_for(st.user, salt);
		if (scram_derive(cred + 7, salt, sizeof(salt),
		    SCRAM_ITER_DEFAULT, &st.keys) == 0)
			known = 1;
	}
	explicit_bzero(cred, sizeof(cred));
	if (!known)
		scram_fake_keys(&st);
	if (scram_server_first(&st, sfirst, sizeof(sfirst)) == -1)
		return SATCHEL_AUTH_FAIL;
	pack_init(&pk, out, sizeof(out));
	pack_str(&pk, sfirst);
	if (pk.err || privsep_send(req->fd, PS_AUTH_CONTINUE, out, pk.len,
	    -1) == -1)
		return SATCHEL_AUTH_FAIL;
	/* The client answers within the worker's pre-auth timeout. */
	if (privsep_recv(req->fd, &m, (int)sd->cf->timeout_preauth * 1000 +
	    5000) != 0 ||
	    m.type != PS_AUTH_SCRAM_FINAL || m.fd != -1) {
		if (m.fd != -1)
			close(m.fd);
		return SATCHEL_AUTH_FAIL;
	}
	unpack_init(&u, m.data, m.len);
	unpack_str(&u, final, sizeof(final));
	if (unpack_done(&u) == -1)
		return SATCHEL_AUTH_FAIL;
	r = scram_client_final(&st, final, strlen(final), req->data,
	    sizeof(req->data));
	explicit_bzero(&st, sizeof(st));
	return r == 1 && known ? SATCHEL_AUTH_OK : SATCHEL_AUTH_FAIL;
}
#endif

/*
 * Run the chain: an unknown user goes on to the next module; a wrong
 * password, a temporary failure or an error stops it.
 */
static uint32_t
auth_check(struct auth_req *req, struct satchel_user *user)
{
	struct satcheld *s = sd;
	struct satchel_auth_request ar;
	const struct satchel_auth_ops *ops;
	char cred[512], vis[128];
	size_t i = 0;
	int r = SATCHEL_AUTH_NOUSER;

	memset(&ar, 0, sizeof(ar));
	ar.user = req->user;
	ar.remote_addr = req->remote;
	ar.local_addr = req->local;
	ar.session = req->session;
	if (req->type == PS_AUTH_SCRAM) {
#ifdef HAVE_OPENSSL
		r = auth_scram(req, &ar, user, &i);
#else
		r = SATCHEL_AUTH_FAIL;
#endif
	} else if (auth_user_valid(req->user) == -1) {
		/* Same work as a wrong password, then the same answer. */
		if (req->type == PS_AUTH_PASS)
			password_dummy(req->secret);
		return SATCHEL_AUTH_FAIL;
	} else if (req->type == PS_AUTH_PASS) {
		for (i = 0; i < s->nauth; i++) {
			ops = s->auth[i]->ops;
			core_set_module_name(s->auth[i]->desc->name);
			memset(user, 0, sizeof(*user));
			ar.password = req->secret;
			r = ops->verify(s->auth[i]->ctx, &ar, user);
			core_set_module_name("core");
			if (r != SATCHEL_AUTH_NOUSER)
				break;
		}
	} else {
		/* APOP, CRAM-MD5 */
		r = auth_lookup_chain(&ar, user, cred, sizeof(cred), &i);
		if (r == SATCHEL_AUTH_OK && !auth_digest_ok(req, cred))
			r = SATCHEL_AUTH_FAIL;
		explicit_bzero(cred, sizeof(cred));
	}
	if (r == SATCHEL_AUTH_NOUSER)
		r = SATCHEL_AUTH_FAIL;
	if (r == SATCHEL_AUTH_OK) {
		user->name[sizeof(user->name) - 1] = '\0';
		if (user->name[0] == '\0')
			strlcpy(user->name, req->user, sizeof(user->name));
		if (auth_user_valid(user->name) == -1) {
			log_vis(vis, sizeof(vis), user->name,
			    strlen(user->name));
			log_warnx("session=%s module %s returned an invalid "
			    "user name '%s'", req->session,
			    i < s->nauth ? s->auth[i]->desc->name : "?", vis);
			r = SATCHEL_AUTH_ERROR;
		}
	}
	return (uint32_t)r;
}

/* A value substituted into a path: no '/', no "..", nothing odd. */
static int
auth_expand_ok(const char *v)
{
	return v[0] != '\0' && strchr(v, '/') == NULL &&
	    strstr(v, "..") == NULL && strchr(v, '%') == NULL &&
	    v[0] != '.' ? 0 : -1;
}

/*
 * Expand the user's mail location ("maildir:/var/vmail/%d/%n") and find
 * its storage module.  %u is the user, %n its local part, %d its domain,
 * %h its home (the only value allowed to hold '/'), %% a '%'.
 */
static int
auth_mail_location(const struct satchel_user *user, char *path,
    size_t pathsz, struct module **mod_r)
{
	struct satcheld *s = sd;
	const char *loc, *p, *at, *colon, *v;
	char local[SATCHEL_USER_MAX + 1], domain[SATCHEL_USER_MAX + 1];
	char driver[32], vis[128];
	size_t o = 0, n;

	loc = user->mail[0] != '\0' ? user->mail : s->cf->mail_location;
	log_vis(vis, sizeof(vis), user->name, strlen(user->name));
	if (loc[0] == '\0') {
		log_warnx("user %s has no mail location and mail_location "
		    "is not set", vis);
		return -1;
	}
	if ((colon = strchr(loc, ':')) == NULL ||
	    (size_t)(colon - loc) >= sizeof(driver)) {
		log_warnx("user %s: mail location '%s' has no driver "
		    "(maildir: or mbox:)", vis, loc);
		return -1;
	}
	memcpy(driver, loc, (size_t)(colon - loc));
	driver[colon - loc] = '\0';
	if ((*mod_r = module_find(s->storage, driver)) == NULL) {
		log_warnx("user %s: no storage module '%s'", vis, driver);
		return -1;
	}
	strlcpy(local, user->name, sizeof(local));
	domain[0] = '\0';
	if ((at = strchr(user->name, '@')) != NULL) {
		local[at - user->name] = '\0';
		strlcpy(domain, at + 1, sizeof(domain));
	}
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p != '%') {
			if (o + 1 >= pathsz)
				goto toolong;
			path[o++] = *p;
			continue;
		}
		switch (*++p) {
		case 'u':
			v = user->name;
			break;
		case 'n':
			v = local;
			break;
		case 'd':
			v = domain;
			break;
		case 'h':
			v = user->home;
			if (v[0] != '/' || strstr(v, "/../") != NULL) {
				log_warnx("user %s: home '%s' is not an "
				    "absolute path", vis, v);
				return -1;
			}
			goto copy;
		case '%':
			v = "%";
			goto copy;
		default:
			log_warnx("user %s: mail location '%s': unknown "
			    "%%-sequence", vis, loc);
			return -1;
		}
		if (auth_expand_ok(v) == -1) {
			log_warnx("user %s: mail location '%s': a value "
			    "substituted is empty or not safe in a path", vis,
			    loc);
			return -1;
		}
copy:
		n = strlen(v);
		if (o + n >= pathsz)
			goto toolong;
		memcpy(path + o, v, n);
		o += n;
	}
	path[o] = '\0';
	if (path[0] != '/' || strstr(path, "/../") != NULL) {
		log_warnx("user %s: mail location '%s' is not an absolute "
		    "path", vis, path);
		return -1;
	}
	return 0;
toolong:
	log_warnx("user %s: mail location too long", vis);
	return -1;
}

/*
 * Fork the mailbox agent.  Returns the worker's end of the socketpair,
 * -2 for an account that can never work (no uid, uid below
 * first_valid_uid: [SYS/PERM]), or -1 for a passing failure (fork,
 * socketpair: [SYS/TEMP]).
 */
static int
auth_fork_agent(struct module *mod, const char *path,
    const struct satchel_user *user0, const char *session)
{
	struct satcheld *s = sd;
	struct satchel_user user = *user0;
	char vis[128];
	int sv[2];
	pid_t pid;

	log_vis(vis, sizeof(vis), user.name, strlen(user.name));
	if (!user.uid_set) {
		if (s->cf->mail_uid < 0 && s->privileged) {
			log_warnx("user %s: no uid from the auth module and "
			    "mail_uid is not set", vis);
			return -2;
		}
		user.uid = s->cf->mail_uid < 0 ? geteuid() :
		    (uid_t)s->cf->mail_uid;
	}
	if (!user.gid_set) {
		if (s->cf->mail_gid < 0 && s->privileged) {
			log_warnx("user %s: no gid from the auth module and "
			    "mail_gid is not set", vis);
			return -2;
		}
		user.gid = s->cf->mail_gid < 0 ? getegid() :
		    (gid_t)s->cf->mail_gid;
	}
	if (s->privileged && (user.uid < s->cf->first_valid_uid ||
	    user.uid == 0)) {
		log_warnx("user %s: uid %lu is below first_valid_uid (%lu): "
		    "refused", vis, (unsigned long)user.uid,
		    s->cf->first_valid_uid);
		return -2;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		return -1;
	}
	/* A spare agent forked ahead of time takes the session at once. */
	if (spare_ctl != -1) {
		unsigned char msg[2 * SATCHEL_PATH_MAX + 512];
		struct pack pk;

		pack_init(&pk, msg, sizeof(msg));
		pack_str(&pk, mod->desc->name);
		pack_str(&pk, path);
		pack_str(&pk, user.name);
		pack_u32(&pk, (uint32_t)user.uid);
		pack_u32(&pk, (uint32_t)user.gid);
		pack_str(&pk, user.home);
		pack_str(&pk, session);
		pid = -1;
		if (!pk.err && privsep_send(spare_ctl, PS_AGENT_START, msg,
		    pk.len, sv[1]) == 0)
			pid = 0;
		close(spare_ctl);
		spare_ctl = -1;
		if (pid == 0) {
			close(sv[1]);
			return sv[0];
		}
		/* The spare died: fork one now, as below. */
	}
	switch (pid = fork()) {
	case -1:
		log_warn("fork agent");
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		close(s->auth_fd);
		agent_main(sv[1], mod, path, &user, session);
		/* NOTREACHED */
	}
	close(sv[1]);
	return sv[0];
}

/* ---- the worker's side ------------------------------------------- */

int
auth_send(uint32_t type, const char *user, const char *secret,
    const char *extra, const struct auth_addrs *a)
{
	static unsigned char out[2048];
	struct pack pk;
	int fd;

	pack_init(&pk, out, sizeof(out));
	pack_str(&pk, user);
	pack_str(&pk, secret);
	pack_str(&pk, extra);
	pack_str(&pk, a->remote);
	pack_str(&pk, a->local);
	pack_str(&pk, a->session);
	if (pk.err) {
		explicit_bzero(out, sizeof(out));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("auth socket");
		explicit_bzero(out, sizeof(out));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sd->auth_addr,
	    sd->auth_addrlen) == -1 ||
	    privsep_send(fd, type, out, pk.len, -1) == -1) {
		log_warn("auth pool");
		close(fd);
		fd = -1;
	}
	explicit_bzero(out, sizeof(out));
	return fd;
}

int
auth_continue(int fd, char *buf, size_t bufsz)
{
	static struct privsep_msg m;
	struct unpack u;

	if (privsep_recv(fd, &m, AUTH_REQUEST_TIMEOUT_MS) != 0 ||
	    m.type != PS_AUTH_CONTINUE) {
		if (m.fd != -1)
			close(m.fd);
		return -1;
	}
	unpack_init(&u, m.data, m.len);
	unpack_str(&u, buf, bufsz);
	return unpack_done(&u);
}

int
auth_scram_final(int fd, const char *msg)
{
	unsigned char out[SCRAM_FINAL_MAX + 8];
	struct pack pk;

	pack_init(&pk, out, sizeof(out));
	pack_str(&pk, msg);
	if (pk.err)
		return -1;
	return privsep_send(fd, PS_AUTH_SCRAM_FINAL, out, pk.len, -1);
}

int
auth_result(int fd, struct auth_result *res)
{
	static struct privsep_msg m;
	struct unpack u;
	int r = -1;

	memset(res, 0, sizeof(*res));
	res->agent_fd = -1;
	if (privsep_recv(fd, &m, AUTH_REQUEST_TIMEOUT_MS) != 0 ||
	    m.type != PS_AUTH_RESULT) {
		log_warn("auth pool reply");
		if (m.fd != -1)
			close(m.fd);
		close(fd);
		return -1;
	}
	close(fd);
	unpack_init(&u, m.data, m.len);
	res->result = unpack_u32(&u);
	res->delay_ms = unpack_u32(&u);
	res->login_delay = unpack_u32(&u);
	unpack_str(&u, res->user, sizeof(res->user));
	unpack_str(&u, res->data, sizeof(res->data));
	if (unpack_done(&u) == -1 || res->result > SATCHEL_AUTH_NOUSER ||
	    (res->result == SATCHEL_AUTH_OK && m.fd == -1) ||
	    res->delay_ms > 120000) {
		log_warnx("malformed reply from the auth pool");
		if (m.fd != -1)
			close(m.fd);
		return -1;
	}
	res->agent_fd = res->result == SATCHEL_AUTH_OK ? m.fd : -1;
	if (res->result != SATCHEL_AUTH_OK && m.fd != -1)
		close(m.fd);
	r = 0;
	return r;
}
