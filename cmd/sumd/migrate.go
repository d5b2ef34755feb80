package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/idemsum/idemsum/mysql"
)

// migrateUsage is the help of "sumd migrate".
const migrateUsage = `usage: sumd migrate [-mysql-dsn DSN] [-migrate-dsn DSN]

sumd migrate brings the schema of the database up to date and exits: 0
once it is, non-zero with the reason if not. It is what sumd does at
start-up unless -migrate=false, apart, so that the serving instances'
account needs no DDL rights (docs/operations.md#migrations). Safe to run
while instances serve, from several places at once, and again after a
crash.

`

// runMigrate is "sumd migrate"; args are the arguments after "migrate".
// Its DSN is -migrate-dsn (SUM_MIGRATE_DSN) if set, else -mysql-dsn
// (SUM_MYSQL_DSN), so that one environment file can hold both accounts.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sumd migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateUsage); fs.PrintDefaults() }
	mysqlDSN, migrateDSN := getenv("SUM_MYSQL_DSN"), getenv("SUM_MIGRATE_DSN")
	if mysqlDSN == "" {
		mysqlDSN = "root@tcp(127.0.0.1:3306)/test"
	}
	fs.StringVar(&mysqlDSN, "mysql-dsn", mysqlDSN, "MySQL DSN, go-sql-driver format (env SUM_MYSQL_DSN)")
	fs.StringVar(&migrateDSN, "migrate-dsn", migrateDSN, "the DSN to migrate with instead of -mysql-dsn: an account that may change the schema (env SUM_MIGRATE_DSN)")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return err
	case fs.NArg() > 0:
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	dsn := mysqlDSN
	if migrateDSN != "" {
		dsn = migrateDSN
	}
	db, err := mysql.Open(ctx, dsn, 2)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer db.Close()
	r, err := mysql.MigrateReport(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if r.Adopted > 0 {
		fmt.Fprintf(stdout, "copied %d rows of an earlier release's schema_migrations to %s (schema_migrations stays, for instances of earlier releases)\n", r.Adopted, mysql.Table)
	}
	for _, name := range r.Applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	fmt.Fprintf(stdout, "schema up to date: version %d\n", r.Version)
	return nil
}
