dnl SATCHEL_WANT_ARGON2: --with-argon2=yes|no|auto (default auto), for the
dnl {ARGON2I} and {ARGON2ID} password schemes (Debian: libargon2-dev).
AC_DEFUN([SATCHEL_WANT_ARGON2], [
  AC_ARG_WITH([argon2],
    AS_HELP_STRING([--with-argon2], [ARGON2I/ARGON2ID password schemes with libargon2 (yes|no|auto)]),
    [], [with_argon2=auto])
  have_argon2=no
  AS_IF([test "x$with_argon2" != xno],
    [PKG_CHECK_MODULES([ARGON2], [libargon2], [have_argon2=yes],
      [AC_CHECK_HEADER([argon2.h],
        [AC_CHECK_LIB([argon2], [argon2_verify],
          [have_argon2=yes; ARGON2_CFLAGS=; ARGON2_LIBS=-largon2])])])
     AS_IF([test "x$have_argon2" = xno && test "x$with_argon2" = xyes],
       [AC_MSG_ERROR([--with-argon2 given but libargon2 was not found (apt-get install libargon2-dev)])])])
  AC_SUBST([ARGON2_CFLAGS])
  AC_SUBST([ARGON2_LIBS])
  AS_IF([test "x$have_argon2" = xyes],
    [AC_DEFINE([HAVE_ARGON2], [1], [ARGON2I/ARGON2ID password schemes])])
])
