-- Satchel test schema: the mailbox table of postfixadmin (3.x), as an ISP
-- running postfixadmin already has it.  tests/integration/test_mysql.py
-- loads it into a throw-away MariaDB and adds the rows it needs.
--
-- Satchel reads only username, password, maildir and active, through the
-- query in the [mysql] section; the other columns are here so that the
-- table is the real thing.

CREATE TABLE mailbox (
  username varchar(255) NOT NULL,
  password varchar(255) NOT NULL,
  name varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  maildir varchar(255) NOT NULL DEFAULT '',
  quota bigint(20) NOT NULL DEFAULT 0,
  local_part varchar(255) NOT NULL,
  domain varchar(255) NOT NULL,
  created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  active tinyint(1) NOT NULL DEFAULT 1,
  phone varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  email_other varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  token varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  token_validity datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  password_expiry datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  PRIMARY KEY (username),
  KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Mailboxes';

-- A table an injected query could reach; the tests check it survives.
CREATE TABLE canary (
  id int NOT NULL PRIMARY KEY,
  note varchar(64) NOT NULL
) ENGINE=InnoDB;
INSERT INTO canary VALUES (1, 'still here');
