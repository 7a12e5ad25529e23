/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_conf.c -- what the master sets up before it forks, and again on
 * SIGHUP: the configuration, the modules (storage modules initialised
 * here; auth modules only checked, in a child that exits, so that their
 * data never enters the master), the worker user, the TLS contexts, the
 * listeners and the auth pool's socket.  Runs in the master, as root.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "compat/compat.h"
#include "satchel/module.h"
#include "auth.h"
#include "auth_fail.h"
#include "conf.h"
#include "log.h"
#include "master.h"
#include "proxy.h"
#include "module.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "supervise.h"
#ifdef HAVE_OPENSSL
#include "key.h"
#include "scram.h"
#include "tls.h"
#endif
#include "worker.h"
#include "compat/poison.h"

/*
 * Connections the kernel queues while every worker is busy starting up
 * (a burst): more than the kernel allows is cut to its somaxconn.
 */
#define LISTEN_BACKLOG	4096

static int master_load_modules(struct satcheld *);
static int master_no_proxies(const struct config *);
static int master_check_auth_modules(struct satcheld *);

/*
 * Load the auth modules named in config, in order, and every storage
 * module of the module directory, and init them all.
 */
static int
master_load_modules(struct satcheld *s)
{
	struct config *cf = s->cf;
	const struct satchel_auth_ops *ops;
	const char *mv;
	size_t i;
	int mb;

	for (i = 0; i < cf->nauth; i++) {
		if ((s->auth[i] = module_load(cf->module_dir, cf->auth[i],
		    SATCHEL_MODULE_AUTH)) == NULL) {
			log_warnx("%s: key 'auth': cannot load auth module "
			    "'%s' from %s", cf->path, cf->auth[i],
			    cf->module_dir);
			return -1;
		}
		s->nauth = i + 1;
	}
	if (module_load_storage(cf->module_dir, cf, &s->storage) == -1)
		return -1;
	if (s->storage == NULL) {
		log_warnx("%s: no storage module in %s", cf->path,
		    cf->module_dir);
		return -1;
	}
	/* The per-module keys the core reads (auth.c's groups). */
	for (i = 0; i < cf->nauth; i++) {
		(void)conf_get(cf, cf->auth[i], "workers");
		(void)conf_get(cf, cf->auth[i], "timeout");
		/* issue 14: a master-only passdb (auth_master.c) */
		if ((mv = conf_get(cf, cf->auth[i], "master")) != NULL &&
		    conf_parse_bool(mv, &mb) == -1) {
			conf_error(cf, cf->auth[i], "master", "not yes or no");
			return -1;
		}
	}
	if (master_check_auth_modules(s) == -1)
		return -1;

	/*
	 * APOP only when asked for and some module can look up a
	 * plaintext-equivalent secret.  Never by default: clients such as
	 * curl use APOP whenever the banner has a timestamp and do not fall
	 * back to USER/PASS, so offering it to users stored as hashes would
	 * lock them out.
	 */
	s->lookup = 0;
	for (i = 0; i < s->nauth; i++) {
		ops = s->auth[i]->ops;
		if (ops->lookup != NULL)
			s->lookup = 1;
	}
	s->apop = 0;
	if (cf->apop == 1) {
		for (i = 0; i < s->nauth; i++) {
			ops = s->auth[i]->ops;
			if (ops->lookup != NULL)
				s->apop = 1;
		}
		if (!s->apop) {
			log_warnx("%s: key 'apop': no auth module in 'auth' "
			    "can look up a plaintext secret", cf->path);
			return -1;
		}
	}
	return 0;
}

/*
 * The auth modules are initialised only in the auth pool's module
 * workers, so that the master, and every worker and agent it forks,
 * never holds their data (a passwd-file, an SQL password).  Their
 * config is checked here in a child that initialises every one of them,
 * reports unknown keys, and exits; its messages name the file, line and
 * key as always.
 */
static int
master_check_auth_modules(struct satcheld *s)
{
	struct config *cf = s->cf;
	size_t i;
	pid_t pid;
	int status;

	fflush(stderr);
	switch (pid = fork()) {
	case -1:
		log_warn("fork config check");
		return -1;
	case 0:
		log_procname("check");
		for (i = 0; i < s->nauth; i++)
			if (module_init(s->auth[i], cf) == -1)
				_exit(1);
		if (conf_check_unused(cf) > 0 || cf->errors > 0)
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			log_warn("waitpid config check");
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

void
master_free_config(struct satcheld *s)
{
	struct module *m, *next;
	size_t i;

	for (i = 0; i < s->nauth; i++)
		module_unload(s->auth[i]);
	s->nauth = 0;
	for (m = s->storage; m != NULL; m = next) {
		next = m->next;
		module_unload(m);
	}
	s->storage = NULL;
	conf_free(s->cf);
	s->cf = NULL;
}

/* mail_extra_groups must name existing groups, at most 8 of them. */
static int
master_check_groups(struct config *cf)
{
	char list[256], *g, *save;
	int n = 0;

	if (strlcpy(list, cf->mail_extra_groups, sizeof(list)) >=
	    sizeof(list)) {
		log_warnx("%s: key 'mail_extra_groups': too long", cf->path);
		return -1;
	}
	for (g = strtok_r(list, " ,", &save); g != NULL;
	    g = strtok_r(NULL, " ,", &save)) {
		if (getgrnam(g) == NULL) {
			log_warnx("%s: key 'mail_extra_groups': no group '%s'",
			    cf->path, g);
			return -1;
		}
		if (++n > 8) {
			log_warnx("%s: key 'mail_extra_groups': more than 8 "
			    "groups", cf->path);
			return -1;
		}
	}
	return 0;
}

struct satcheld *
master_configure(const char *path, int foreground)
{
	struct satcheld *s;
	struct passwd *pw;
#ifndef HAVE_OPENSSL
	size_t i;
#endif

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	s->conf_path = path;
	s->foreground = foreground;
	s->privileged = geteuid() == 0;
	s->auth_fd = -1;
	s->chan = -1;
	s->control_fd = -1;
	if ((s->cf = conf_load(path)) == NULL)
		goto fail;
	if (master_load_modules(s) == -1)
		goto fail;
	if (s->privileged) {
		if ((pw = getpwnam(s->cf->worker_user)) == NULL) {
			log_warnx("%s: key 'worker_user': no such user '%s' "
			    "(create it: useradd --system --no-create-home "
			    "%s)", path, s->cf->worker_user,
			    s->cf->worker_user);
			goto fail;
		}
		if (pw->pw_uid == 0) {
			log_warnx("%s: key 'worker_user': '%s' is root",
			    path, s->cf->worker_user);
			goto fail;
		}
		s->worker_uid = pw->pw_uid;
		s->worker_gid = pw->pw_gid;
		if (master_check_groups(s->cf) == -1)
			goto fail;
		if (s->cf->chroot[0] != '\0') {
			struct stat st;

			if (stat(s->cf->chroot, &st) == -1 ||
			    !S_ISDIR(st.st_mode)) {
				log_warnx("%s: key 'chroot': %s is not a "
				    "directory", path, s->cf->chroot);
				goto fail;
			}
			if (st.st_uid != 0 ||
			    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
				log_warnx("%s: key 'chroot': %s must be "
				    "owned by root and not writable by "
				    "others", path, s->cf->chroot);
				goto fail;
			}
		}
	} else {
		s->worker_uid = geteuid();
		s->worker_gid = getegid();
	}
#ifdef HAVE_OPENSSL
	if (tls_configure(s) == -1)
		goto fail;
	scram_init();
#endif
	/* Proxy mode's TLS client context (CA file read here, as root). */
	if (proxy_configure(s->cf) == -1)
		goto fail;
#ifndef HAVE_OPENSSL
	for (i = 0; i < s->cf->nlisten; i++)
		if (s->cf->listen[i].tls)
			break;
	if (i < s->cf->nlisten || s->cf->tls_cert[0] != '\0') {
		log_warnx("%s: key '%s': TLS is configured, but this satcheld "
		    "was built without OpenSSL", path, i < s->cf->nlisten ?
		    "listen" : "tls_cert");
		goto fail;
	}
#endif
	return s;
fail:
	if (s->cf != NULL)
		master_free_config(s);
#ifdef HAVE_OPENSSL
	tls_free(s);
#endif
	free(s);
	return NULL;
}

/* haproxy_trusted_networks is "none" (or empty). */
static int
master_no_proxies(const struct config *cf)
{
	return cf->nhaproxy_trusted == 0 || (cf->nhaproxy_trusted == 1 &&
	    cf->haproxy_trusted[0].family == -1);
}

int
master_listen(struct satcheld *s)
{
	struct addrinfo hints, *res, *ai;
	struct conf_listen *l;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	size_t i;
	int fd, on = 1, r;

	for (i = 0; i < s->cf->nlisten; i++) {
		l = &s->cf->listen[i];
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((r = getaddrinfo(l->host[0] == '\0' ? NULL : l->host,
		    l->port, &hints, &res)) != 0) {
			log_warnx("%s: key 'listen': %s:%s: %s", s->cf->path,
			    l->host, l->port, gai_strerror(r));
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (s->nlisteners == LISTENERS_MAX) {
				log_warnx("too many listening addresses");
				freeaddrinfo(res);
				return -1;
			}
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host,
			    sizeof(host), serv, sizeof(serv),
			    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
				strlcpy(host, "?", sizeof(host));
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
			if (fd == -1) {
				log_warn("socket for %s", host);
				freeaddrinfo(res);
				return -1;
			}
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
			    sizeof(on));
			if (ai->ai_family == AF_INET6)
				(void)setsockopt(fd, IPPROTO_IPV6,
				    IPV6_V6ONLY, &on, sizeof(on));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
			    listen(fd, LISTEN_BACKLOG) == -1) {
				log_warn("listen on %s port %s", host, serv);
				close(fd);
				freeaddrinfo(res);
				return -1;
			}
			s->listeners[s->nlisteners].fd = fd;
			s->listeners[s->nlisteners].tls = l->tls;
			s->listeners[s->nlisteners].haproxy = l->haproxy;
			memcpy(&s->listeners[s->nlisteners].addr, ai->ai_addr,
			    ai->ai_addrlen);
			s->listeners[s->nlisteners].addrlen = ai->ai_addrlen;
			(void)snprintf(s->listeners[s->nlisteners].name,
			    sizeof(s->listeners[0].name),
			    ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			    host, serv);
			log_info("listening on %s%s%s",
			    s->listeners[s->nlisteners].name,
			    l->tls ? " (tls)" : "",
			    l->haproxy ? " (haproxy)" : "");
			if (l->haproxy && master_no_proxies(s->cf))
				log_warnx("%s: listener %s is marked haproxy "
				    "but haproxy_trusted_networks is empty: "
				    "every connection to it is refused",
				    s->cf->path,
				    s->listeners[s->nlisteners].name);
			s->nlisteners++;
		}
		freeaddrinfo(res);
	}
	return 0;
}

/*
 * The auth pool's socket: SOCK_SEQPACKET in the abstract namespace, so
 * a chrooted worker can reach it.  Abstract names are visible to every
 * local user (/proc/net/unix), so the name is no secret: what protects
 * the pool is the SO_PEERCRED check in each auth process, which admits
 * only the worker user and root.
 */
int
master_auth_socket(struct satcheld *s)
{
	unsigned char rnd[8];
	char name[64];
	int n;

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		log_warn("getrandom");
		return -1;
	}
	n = snprintf(name, sizeof(name), "satchel-auth-%ld-%02x%02x%02x%02x"
	    "%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	memset(&s->auth_addr, 0, sizeof(s->auth_addr));
	s->auth_addr.sun_family = AF_UNIX;
	memcpy(s->auth_addr.sun_path + 1, name, (size_t)n);
	s->auth_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    1 + (size_t)n);
	if ((s->auth_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0))
	    == -1 || bind(s->auth_fd, (struct sockaddr *)&s->auth_addr,
	    s->auth_addrlen) == -1 || listen(s->auth_fd, 512) == -1) {
		log_warn("auth socket");
		return -1;
	}
	return 0;
}
