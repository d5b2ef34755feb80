package mysql

import (
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/go-sql-driver/mysql"
)

// errTotalReadOnly is Total's error on a server marked read-only.
var errTotalReadOnly = errors.New("mysql server is read-only (read_only or innodb_read_only): a replica, or a primary being demoted")

// readOnly reports whether err is a server refusing a write because it is
// read-only: read_only or super_read_only (1290,
// ER_OPTION_PREVENTS_STATEMENT), innodb_read_only (1836, MySQL's
// ER_READ_ONLY_MODE; 1036, MariaDB's ER_OPEN_AS_READONLY), or a read-only
// transaction (1792). Such a server is a replica or a demoted primary:
// nothing was written, and the connection should not be reused, because
// the address it was dialled to may lead to the new primary by now.
func readOnly(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1290, 1836, 1036, 1792:
		return true
	}
	return false
}

// discard makes conn be closed when it is released rather than returned
// to the pool, so that the pool dials anew.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}
