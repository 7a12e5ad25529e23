/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mysql_int.h -- what the mysql module's files share: the module
 * context, one fetched row, and the connection side (mysql_conn.c).
 * Internal to auth_mysql.so.
 */
#ifndef SATCHEL_MYSQL_INT_H
#define SATCHEL_MYSQL_INT_H

#include <errmsg.h>
#include <mysql.h>

#include "satchel/module.h"
#include "mysql_query.h"

#if !defined(LIBMARIADB) && defined(MYSQL_VERSION_ID) && \
    MYSQL_VERSION_ID >= 80000
typedef bool my_bool;			/* MySQL 8 dropped my_bool */
#endif

#define MY_HOSTS_MAX		8
#define MY_COLS_MAX		32
#define MY_PASSWORD_MAX		512
#define MY_ID_MAX		4294967294ULL
#define MY_DELAY_MAX		86400ULL
#define MY_TIMEOUT_DEFAULT	5

struct my_host {
	char		*host;		/* NULL for a socket */
	char		*socket;
	unsigned int	 port;
};

struct my_ctx {
	const struct satchel_core	*core;
	struct my_host			 hosts[MY_HOSTS_MAX];
	size_t				 nhosts;
	char				*user;
	char				*password_file;
	char				*password;	/* auth processes only */
	char				*database;
	char				*query;		/* with '?' */
	char				 params[MYQ_PARAMS_MAX];	/* u n d r */
	size_t				 nparams;
	unsigned int			 connect_timeout, read_timeout;
	int				 tls;
	char				*tls_ca;

	MYSQL				*db;
	MYSQL_STMT			*stmt;
	int				 cols[MY_COLS_MAX];	/* enum my_col */
	size_t				 ncols;
	size_t				 host_used;
};

/* One fetched row, on verify()'s stack. */
struct my_row {
	char		 val[COL_COUNT][SATCHEL_PATH_MAX];
	unsigned long	 len[COL_COUNT];
	my_bool		 is_null[COL_COUNT];
	my_bool		 error[COL_COUNT];
	int		 present[COL_COUNT];
};

/* mysql_conn.c */
void	 my_wipe(void *, size_t);
int	 my_parse_hosts(struct my_ctx *, const struct satchel_conf *,
	    const char *);
int	 my_read_password(struct my_ctx *, const struct satchel_conf *,
	    char **);
int	 my_connect(struct my_ctx *, int *);
void	 my_disconnect(struct my_ctx *);
int	 my_fetch(struct my_ctx *, const struct satchel_auth_request *,
	    struct my_row *);

#endif /* SATCHEL_MYSQL_INT_H */
