/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master_key.c -- the master's side of the key process (key.c): start
 * one per configuration, take the public keys it sends, retire the old
 * one after a reload, restart a dead one with the same keys, stop them
 * all at exit.  Runs in the master, as root; it never opens a key file.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "compat/compat.h"
#include "conf.h"
#include "key.h"
#include "keyproto.h"
#include "log.h"
#include "master.h"
#include "priv.h"
#include "privsep.h"
#include "scoreboard.h"
#include "worker.h"
#include "compat/poison.h"

static struct key_proc *key_live;	/* spawned, not released */
static int key_atexit_set;

static int key_start(struct satcheld *, struct key_proc *, int);
static void key_atexit(void);
static void key_unlink(struct key_proc *);
static void key_free_pub(struct key_proc *);


int
key_spawn(struct satcheld *s, struct key_proc *kp)
{
	unsigned char rnd[8];
	char name[64];
	int n;

	memset(kp, 0, sizeof(*kp));
	kp->pid = -1;
	kp->ctl = -1;
	kp->nkeys = 1 + s->cf->ntls_sni;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		log_warn("getrandom");
		return -1;
	}
	n = snprintf(name, sizeof(name), "satchel-key-%ld-%02x%02x%02x%02x"
	    "%02x%02x%02x%02x", (long)getpid(), rnd[0], rnd[1], rnd[2],
	    rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	kp->addr.sun_family = AF_UNIX;
	memcpy(kp->addr.sun_path + 1, name, (size_t)n);
	kp->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    (size_t)n);
	if (key_start(s, kp, 0) == -1) {
		key_free_pub(kp);
		return -1;
	}
	kp->next = key_live;
	key_live = kp;
	if (!key_atexit_set) {
		(void)atexit(key_atexit);
		key_atexit_set = 1;
	}
	return 0;
}

/*
 * Fork the key process for kp and wait for its keys.  again: it is a
 * restart after the key process died; the keys must be the ones the
 * master's contexts hold (kp->pub), or the workers' signatures would
 * not match their certificates.
 */
static int
key_start(struct satcheld *s, struct key_proc *kp, int again)
{
	static struct privsep_msg m;
	const unsigned char *p;
	EVP_PKEY *pub;
	uint32_t idx;
	size_t got = 0;
	int sv[2], r, status;

	kp->started = time(NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("key process: socketpair");
		return -1;
	}
	fflush(NULL);
	switch (kp->pid = fork()) {
	case -1:
		log_warn("fork key process");
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		key_child(s, kp, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	kp->ctl = sv[0];
	kp->parent = getpid();
	for (;;) {
		if ((r = privsep_recv(kp->ctl, &m, 30000)) != 0) {
			if (r == -1 && errno == ETIMEDOUT)
				log_warnx("key process: no answer in 30 s");
			break;
		}
		if (m.fd != -1)
			close(m.fd);
		if (m.type == KEY_CTL_READY && got == kp->nkeys)
			return 0;
		if (m.type != KEY_CTL_PUB || m.len <= sizeof(idx))
			break;
		memcpy(&idx, m.data, sizeof(idx));
		p = m.data + sizeof(idx);
		if (idx != got || (pub = d2i_PUBKEY(NULL, &p,
		    (long)(m.len - sizeof(idx)))) == NULL)
			break;
		if (again && EVP_PKEY_eq(kp->pub[idx], pub) != 1) {
			log_warnx("key process: key %lu changed on disk since "
			    "the configuration was loaded: reload (SIGHUP) to "
			    "use it", (unsigned long)idx);
			EVP_PKEY_free(pub);
			break;
		}
		if (again)
			EVP_PKEY_free(pub);
		else
			kp->pub[idx] = pub;
		got++;
	}
	/* It has logged why; collect it so no zombie is left. */
	kill(kp->pid, SIGTERM);
	while (waitpid(kp->pid, &status, 0) == -1 && errno == EINTR)
		;
	close(kp->ctl);
	kp->ctl = -1;
	kp->pid = -1;
	return -1;
}

static void
key_free_pub(struct key_proc *kp)
{
	size_t i;

	for (i = 0; i < KEY_KEYS_MAX; i++) {
		EVP_PKEY_free(kp->pub[i]);
		kp->pub[i] = NULL;
	}
}

static void
key_unlink(struct key_proc *kp)
{
	struct key_proc **pp;

	for (pp = &key_live; *pp != NULL; pp = &(*pp)->next)
		if (*pp == kp) {
			*pp = kp->next;
			break;
		}
}

/*
 * Forget kp and send its process sig: SIGUSR1 retires it (it serves its
 * grace period, then exits), SIGTERM ends it now.
 */
static void
key_stop(struct key_proc *kp, int sig)
{
	key_unlink(kp);
	if (kp->pid > 0)
		kill(kp->pid, sig);
	if (kp->ctl != -1)
		close(kp->ctl);
	kp->ctl = -1;
	kp->pid = -1;
	key_free_pub(kp);
}

void
key_retire(struct key_proc *kp)
{
	key_stop(kp, SIGUSR1);
}

void
key_kill(struct key_proc *kp)
{
	key_stop(kp, SIGTERM);
}

void
key_close_inherited(void)
{
	struct key_proc *kp;

	for (kp = key_live; kp != NULL; kp = kp->next)
		if (kp->ctl != -1) {
			close(kp->ctl);
			kp->ctl = -1;
		}
	key_live = NULL;
}

void
key_tick(struct satcheld *s)
{
	struct key_proc *kp;
	time_t now = time(NULL);

	for (kp = key_live; kp != NULL; kp = kp->next) {
		kp->parent = getpid();
		/* Supervision: restart a dead key process, every 5 s. */
		if (kp->pid == -1 && now - kp->started >= 5) {
			if (kp->ctl != -1)
				close(kp->ctl);
			kp->ctl = -1;
			if (key_start(s, kp, 1) == 0)
				log_info("key process restarted: pid %ld",
				    (long)kp->pid);
		}
	}
}

void
key_reaped(pid_t pid, int status)
{
	struct key_proc *kp;

	for (kp = key_live; kp != NULL; kp = kp->next)
		if (kp->pid == pid)
			break;
	if (kp == NULL)
		return;		/* a retired key process: expected */
	if (WIFSIGNALED(status))
		log_warnx("key process %ld killed by signal %d: restarting "
		    "it", (long)pid, WTERMSIG(status));
	else
		log_warnx("key process %ld exited with status %d: restarting "
		    "it", (long)pid, WEXITSTATUS(status));
	kp->pid = -1;
}

/*
 * The master exits (-t, an error at start, or shutdown): its key
 * processes go with it.  A child calling exit() must not do this, nor
 * the parent daemon() leaves: only the process that forked them.
 */
static void
key_atexit(void)
{
	struct key_proc *kp;

	for (kp = key_live; kp != NULL; kp = kp->next)
		if (kp->pid > 0 && kp->parent == getpid())
			kill(kp->pid, SIGTERM);
}
