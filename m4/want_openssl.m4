dnl SATCHEL_WANT_OPENSSL: --with-openssl=yes|no|auto (default auto).
AC_DEFUN([SATCHEL_WANT_OPENSSL], [
  AC_ARG_WITH([openssl],
    AS_HELP_STRING([--with-openssl], [TLS with OpenSSL (yes|no|auto)]),
    [], [with_openssl=auto])
  have_openssl=no
  AS_IF([test "x$with_openssl" != xno],
    [PKG_CHECK_MODULES([OPENSSL], [openssl >= 1.1.1], [have_openssl=yes],
      [AS_IF([test "x$with_openssl" = xyes],
        [AC_MSG_ERROR([--with-openssl given but OpenSSL was not found (apt-get install libssl-dev)])])])])
  AS_IF([test "x$have_openssl" = xyes],
    [AC_DEFINE([HAVE_OPENSSL], [1], [Build TLS support])])
  AM_CONDITIONAL([HAVE_OPENSSL], [test "x$have_openssl" = xyes])
])
