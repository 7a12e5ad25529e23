/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf.h -- satchel.conf: "key = value" lines, '#' comments, and
 * "[name]" sections holding a module's settings.  Every error names the
 * file, the line and the key.  Parsed in the master (root) only.
 */
#ifndef SATCHEL_CONF_H
#define SATCHEL_CONF_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define CONF_LISTEN_MAX		16
#define CONF_MODULES_MAX	8
#define CONF_SNI_MAX		16
#define CONF_NETS_MAX		32

struct conf_entry {
	char			*section;	/* "" at top level */
	char			*key;
	char			*value;
	int			 line;
	int			 used;
	struct conf_entry	*next;
};

/* A module's view of its section (struct satchel_conf in module.h). */
struct satchel_conf {
	struct config		*cf;
	const char		*section;
};

struct conf_listen {
	char		 host[256];	/* "" for any */
	char		 port[16];
	int		 tls;		/* implicit TLS */
};

struct config {
	char			*path;
	struct conf_entry	*entries;
	int			 errors;

	/* listen = ADDR:PORT [tls], repeatable; [v6]:port; *:port */
	struct conf_listen	 listen[CONF_LISTEN_MAX];
	size_t			 nlisten;

	char			*worker_user;	/* default "satchel" */
	char			*chroot;	/* "" disables */
	unsigned int		 workers_min_spare;
	unsigned int		 workers_max_spare;
	unsigned int		 workers_max;
	unsigned int		 worker_max_sessions;
	unsigned int		 auth_processes;

	char			*auth[CONF_MODULES_MAX];	/* order */
	size_t			 nauth;
	char			*module_dir;
	char			*mail_location;	/* default for users */
	long			 mail_uid, mail_gid;	/* -1 unset */
	char			*mail_extra_groups;	/* e.g. "mail" */
	unsigned long		 first_valid_uid;

	char			*pidfile;
	char			*syslog_facility;
	int			 log_level;	/* SATCHEL_LOG_* */

	unsigned int		 timeout_preauth;	/* seconds */
	unsigned int		 timeout_session;
	unsigned int		 shutdown_timeout;
	unsigned int		 login_fail_delay_ms;	/* base */
	unsigned int		 login_fail_max;	/* per connection */
	unsigned int		 login_delay;	/* LOGIN-DELAY, 0 off */
	char			*expire;	/* EXPIRE value, "NEVER" */
	int			 apop;		/* offer APOP: 0 no, 1 yes */
	char			*greeting;	/* banner text */

	/* TLS (only with OpenSSL) and plaintext policy */
	char			*tls_cert;	/* chain, PEM */
	char			*tls_key;
	struct conf_sni {
		char		*name;		/* host name, or *.domain */
		char		*cert;
		char		*key;
	}			 tls_sni[CONF_SNI_MAX];
	size_t			 ntls_sni;
	int			 tls_min_version;	/* 12 or 13 */
	char			*tls_ciphers;		/* TLS 1.2 list */
	char			*tls_ciphersuites;	/* TLS 1.3 list */
	unsigned int		 tls_ticket_rotate;	/* seconds, 0: off */
	int			 disable_plaintext_auth;
	struct conf_net {
		int		 family;
		unsigned char	 addr[16];
		unsigned int	 prefix;
	}			 trusted[CONF_NETS_MAX];
	size_t			 ntrusted;
	char			*sasl;		/* mechanisms offered */
	int			 sandbox;	/* seccomp in worker, agent */
};

/*
 * Read and check path.  Returns a config, or NULL after logging every
 * error as "path:line: key 'k': message".
 */
struct config	*conf_load(const char *path);
void		 conf_free(struct config *cf);
/*
 * After the modules have read their sections: report keys nobody used,
 * and sections that name no loaded module.  Returns the error count.
 */
int		 conf_check_unused(struct config *cf);
/* Look up a top-level or section key (marks it used); NULL if unset. */
const char	*conf_get(struct config *cf, const char *section,
		    const char *key);
/* A module's section view, valid as long as cf. */
struct satchel_conf *conf_section(struct config *cf, const char *section);
/* Log "path:line: key 'k' [section]: message" and count an error. */
void		 conf_error(struct config *cf, const char *section,
		    const char *key, const char *fmt, ...)
		    __attribute__((format(printf, 4, 5)));
/* Strict parsers shared with modules. */
int		 conf_parse_uint(const char *s, uint64_t min, uint64_t max,
		    uint64_t *val_r);
int		 conf_parse_bool(const char *s, int *val_r);
/* 1 when the address (AF_INET or AF_INET6, v4-mapped handled) is in one
 * of the trusted networks. */
int		 conf_trusted(const struct config *cf, const struct sockaddr *sa);

#endif /* SATCHEL_CONF_H */
