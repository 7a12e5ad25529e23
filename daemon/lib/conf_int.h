/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * conf_int.h -- what conf.c (the reader, the key table, the engine) and
 * conf_set.c (one setter per kind of value) share.  Not for modules:
 * they see satchel/conftab.h.  Master only, like all config code.
 */
#ifndef SATCHEL_CONF_INT_H
#define SATCHEL_CONF_INT_H

#include <stddef.h>

#include "satchel/conftab.h"
#include "conf.h"

#define CONF_LINE_MAX	4096

/*
 * Kinds only the core's own keys use (they fill struct config members
 * that are not one scalar or string); the public kinds of conftab.h come
 * first.
 */
enum {
	K_ULONG = 32,	/* unsigned long, min..max */
	K_UID,		/* long: a number or a user name; -1 unset */
	K_GID,		/* long: a number or a group name; -1 unset */
	K_LISTEN,	/* listen[], nlisten */
	K_MODULES,	/* auth[], nauth */
	K_SNI,		/* tls_sni[], ntls_sni */
	K_NETS,		/* trusted[], ntrusted */
	K_SASL,		/* char *: known mechanisms, single spaces */
	K_FACILITY,	/* char *: a syslog facility name */
	K_MAILLOC,	/* char *: DRIVER:PATH with known %-sequences */
	K_EXPIRE,	/* char *: "", NEVER or days */
	K_USERFMT,	/* char *: auth_username_format (userfmt.h) */
	K_MAX
};

/* Where a value comes from, for the messages. */
struct conf_ctx {
	struct config			*cf;
	const char			*section;	/* "" top level */
	const struct satchel_conf_key	*k;
	int				 line;	/* 0: the default */
};

/*
 * A setter parses value into the member at field.  value is NULL when
 * the key is not set and has no default: the setter stores its "unset"
 * state or reports a missing required key.  Returns 0 or -1 (reported).
 */
typedef int conf_setter(struct conf_ctx *, void *field, const char *value);

struct conf_kind {
	conf_setter	*set;
	size_t		 size;	/* member size (restart check); 0: char * */
};
/* conf.c's table of the top-level keys, ended by key == NULL. */
extern const struct satchel_conf_key conf_keys[];
/* Indexed by kind; a kind without a setter has set == NULL. */
extern const struct conf_kind conf_kinds[K_MAX];
#define KIND_IS_STR(kd)	((kd) == SATCHEL_CONF_STRING ||			\
	(kd) == SATCHEL_CONF_PATH || (kd) == K_SASL || (kd) == K_FACILITY || \
	(kd) == K_MAILLOC || (kd) == K_EXPIRE || (kd) == K_USERFMT)


/* "file:line: key 'k'[ in [section]]: message"; counts an error. */
void	conf_kerr(struct conf_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Every "mail" key of a module section ([pam] mail = ...) is a mail
 * location: checked like mail_location, errors counted with the line.
 */
void	conf_check_section_mail(struct config *);
/* ADDRESS[/PREFIX] into n; -1 if it is not one. */
int	conf_parse_net(struct config *, const char *, struct conf_net *);

#endif /* SATCHEL_CONF_INT_H */
