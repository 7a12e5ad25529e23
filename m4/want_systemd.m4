dnl SATCHEL_WANT_SYSTEMD: --with-systemd=yes|no|auto (default auto), for
dnl sd_notify readiness with Type=notify.
AC_DEFUN([SATCHEL_WANT_SYSTEMD], [
  AC_ARG_WITH([systemd],
    AS_HELP_STRING([--with-systemd], [sd_notify support (yes|no|auto)]),
    [], [with_systemd=auto])
  have_systemd=no
  AS_IF([test "x$with_systemd" != xno],
    [PKG_CHECK_MODULES([SYSTEMD], [libsystemd], [have_systemd=yes],
      [AS_IF([test "x$with_systemd" = xyes],
        [AC_MSG_ERROR([--with-systemd given but libsystemd was not found (apt-get install libsystemd-dev)])])])])
  AS_IF([test "x$have_systemd" = xyes],
    [AC_DEFINE([HAVE_SYSTEMD], [1], [sd_notify readiness])])
])
