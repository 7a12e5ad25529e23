/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * master.h -- the state the master builds before it forks: config,
 * listeners, modules, scoreboard, auth socket.  Children inherit it
 * read-only (each keeps what its role needs and closes the rest).
 */
#ifndef SATCHEL_MASTER_H
#define SATCHEL_MASTER_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <stdint.h>

#include "conf.h"

#define LISTENERS_MAX	64

struct listener {
	int		 fd;
	int		 tls;
	int		 haproxy;	/* a PROXY header comes first */
	char		 name[80];	/* "127.0.0.1:110" for logs */
	/* The bound address: the auth pool tells a haproxy listener's
	 * connections by their local address (auth_conn.c). */
	struct sockaddr_storage	 addr;
	socklen_t	 addrlen;
};

struct satcheld {
	struct config		*cf;
	const char		*conf_path;
	int			 foreground;
	int			 running;	/* master_run() has begun */
	int			 debug;		/* -d: keeps debug across reloads */
	int			 privileged;	/* running as root */

	struct listener		 listeners[LISTENERS_MAX];
	size_t			 nlisteners;

	struct module		*auth[CONF_MODULES_MAX];
	size_t			 nauth;
	struct module		*storage;	/* list */
	int			 apop;		/* banner timestamp offered */
	int			 lookup;	/* a module can look up secrets */

	struct scoreboard	*sb;
	uint32_t		 generation;

	uid_t			 worker_uid;
	gid_t			 worker_gid;

	int			 auth_fd;	/* listening, auth pool only */
	struct sockaddr_un	 auth_addr;	/* abstract name */
	socklen_t		 auth_addrlen;

	int			 chan;		/* worker: its own channel to
						   the master (master.c); -1 */
	int			 control_fd;	/* satchelctl (control.c) */
	pid_t			 master_pid;	/* children die with it */
	void			*tls;		/* TLS context, when built */
};


/*
 * What a worker writes on its channel, one octet each: it waits for a
 * client (idle), or it accepted one (busy).  The master sizes the pool
 * from these and its own pid table only, never from the scoreboard.
 */
#define MASTER_CHAN_IDLE	'i'
#define MASTER_CHAN_BUSY	'b'
#define MASTER_CHAN_TAKEOVER	't'	/* lock_conflict: control.c scans */

/* Load config and modules into a fresh state; NULL on error (logged). */
struct satcheld	*master_configure(const char *path, int foreground);
/* Run the master loop until SIGTERM; returns the exit status. */
int		 master_run(struct satcheld *s);
/* master_conf.c: bind every listener; the auth pool's socket.  0/-1. */
int		 master_listen(struct satcheld *s);
int		 master_auth_socket(struct satcheld *s);
/*
 * For control.c, the master's own tables (never a slot's pid field):
 * the pid of the worker in scoreboard slot i (-1 if none), and how
 * many workers and auth processes of the current generation run.
 */
pid_t		 master_worker_pid(uint32_t slot);
void		 master_counts(const struct satcheld *s, unsigned int *workers,
		    unsigned int *auth, unsigned int *old);
/*
 * master_proc.c: the pidfile (-2 for none, -1 on error, logged with the
 * config path cfpath; written 0/-1) and a new child's signal state.
 */
int		 master_open_pidfile(const char *cfpath, const char *path);
int		 master_write_pidfile(int fd, const char *path);
void		 master_child_signals(void);
/* Release modules and config of a state (not listeners). */
void		 master_free_config(struct satcheld *s);


#endif /* SATCHEL_MASTER_H */
