dnl SATCHEL_WANT_PAM: --with-pam=yes|no|auto (default auto).
AC_DEFUN([SATCHEL_WANT_PAM], [
  AC_ARG_WITH([pam],
    AS_HELP_STRING([--with-pam], [build the PAM auth module (yes|no|auto)]),
    [], [with_pam=auto])
  have_pam=no
  AS_IF([test "x$with_pam" != xno],
    [AC_CHECK_HEADER([security/pam_appl.h],
      [AC_CHECK_LIB([pam], [pam_start], [have_pam=yes; PAM_LIBS=-lpam])])
     AS_IF([test "x$have_pam" = xno && test "x$with_pam" = xyes],
       [AC_MSG_ERROR([--with-pam given but libpam was not found (apt-get install libpam0g-dev)])])])
  AC_SUBST([PAM_LIBS])
  AS_IF([test "x$have_pam" = xyes && test -f "$srcdir/modules/auth/pam/auth_pam.c"],
    [satchel_extra_modules="$satchel_extra_modules auth_pam"],
    [have_pam=no; satchel_skipped_modules="$satchel_skipped_modules auth_pam"])
  AM_CONDITIONAL([BUILD_PAM], [test "x$have_pam" = xyes])
])
