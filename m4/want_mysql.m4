dnl SATCHEL_WANT_MYSQL: --with-mysql=yes|no|auto (default auto).
dnl pkg-config first (mysqlclient, then libmariadb), then mysql_config.
AC_DEFUN([SATCHEL_WANT_MYSQL], [
  AC_ARG_WITH([mysql],
    AS_HELP_STRING([--with-mysql], [build the MySQL/MariaDB auth module (yes|no|auto)]),
    [], [with_mysql=auto])
  have_mysql=no
  AS_IF([test "x$with_mysql" != xno],
    [PKG_CHECK_MODULES([MYSQL], [mysqlclient], [have_mysql=yes],
      [PKG_CHECK_MODULES([MYSQL], [libmariadb], [have_mysql=yes], [have_mysql=no])])
     AS_IF([test "x$have_mysql" = xno && test "x$with_mysql" = xyes],
       [AC_MSG_ERROR([--with-mysql given but libmysqlclient was not found (apt-get install default-libmysqlclient-dev)])])])
  AS_IF([test "x$have_mysql" = xyes && test -f "$srcdir/modules/auth/mysql/auth_mysql.c"],
    [satchel_extra_modules="$satchel_extra_modules auth_mysql"],
    [have_mysql=no; satchel_skipped_modules="$satchel_skipped_modules auth_mysql"])
  AM_CONDITIONAL([BUILD_MYSQL], [test "x$have_mysql" = xyes])
])
