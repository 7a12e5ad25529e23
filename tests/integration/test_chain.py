"""Auth chains: auth = file mysql.

An unknown user goes on to the next module; a wrong password, a
disabled account or a temporary failure stops the chain.  Uses the
MariaDB helpers of test_mysql.py (the same shared server).
"""
import satchel as S
from satchel import check

import test_mysql as M


def test_chain_file_mysql(env):
    """file user, mysql user, a wrong file password that does not fall
    through to mysql, unknown everywhere, and the database down: file
    users still log in, mysql users get [SYS/TEMP]."""
    M.need_mysql(env)
    db = M.shared_db()
    M.clear_users(env, [db])
    filer = env.add_user("filer", "File-pw-1", messages=[S.simple_message(1)])
    # Also in the database, with another password: must never be used.
    M.add_mysql_user(env, [db], "filer", "Db-pw-for-filer", maildir=False)
    sqler = M.add_mysql_user(env, [db], "sqler", "Sql-pw-2",
                             messages=[S.simple_message(1),
                                       S.simple_message(2)])
    del env.users[sqler]            # mysql only
    env.write_users()
    M.start_mysql(env, "file mysql", M.mysql_section(env, db),
                  keep_file=True)
    M.assert_ok(env, filer, "File-pw-1", messages=1)
    M.assert_ok(env, sqler, "Sql-pw-2", messages=2)
    env.wait_log(r"event=auth user=%s .*result=ok" % sqler, 5)
    # A wrong password in the file stops the chain, even though the
    # database would accept this one.
    r = M.assert_refused(env, filer, "Db-pw-for-filer")
    check("[AUTH]" in r, "wrong file password: %r" % r)
    M.assert_refused(env, sqler, "File-pw-1")
    M.assert_refused(env, "ghost@" + S.DOMAIN, "whatever")
    try:
        db.stop()
        M.assert_ok(env, filer, "File-pw-1", messages=1)
        M.assert_tempfail(env, sqler, "Sql-pw-2")
    finally:
        db.start()
    M.assert_ok(env, sqler, "Sql-pw-2", messages=2)
    M.no_password_in_log(env, db, "File-pw-1", "Sql-pw-2", "Db-pw-for-filer")
