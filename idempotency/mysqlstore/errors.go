package mysqlstore

import (
	"errors"

	"github.com/go-sql-driver/mysql"
)

// MySQL error numbers the Store acts on.
const (
	errDuplicateKey    = 1062 // ER_DUP_ENTRY
	errDuplicateColumn = 1060 // ER_DUP_FIELDNAME
	errDeadlock        = 1213 // ER_LOCK_DEADLOCK
)

// maxAttempts bounds how often retry runs a statement that InnoDB chose as
// a deadlock victim.
const maxAttempts = 3

func isDuplicate(err error) bool { return mysqlErrorIs(err, errDuplicateKey) }

func mysqlErrorIs(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// retry runs the autocommit statement of exec again when InnoDB rolled it
// back to break a deadlock; the rollback undid it, so a rerun is safe.
func retry(exec func() error) error {
	var err error
	for range maxAttempts {
		if err = exec(); !mysqlErrorIs(err, errDeadlock) {
			return err
		}
	}
	return err
}
