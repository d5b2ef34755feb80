package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DB keeps the orders in MySQL.
type DB struct{ SQL *sql.DB }

// The orders table. idem_key is the fence: the idempotency key of the
// request that placed the order, unique, written by the same statement
// as the order itself.
const createTable = `CREATE TABLE IF NOT EXISTS orders (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	idem_key VARBINARY(255) NOT NULL,
	item VARCHAR(100) NOT NULL,
	quantity INT NOT NULL,
	created_ms BIGINT NOT NULL,
	UNIQUE KEY idem_key (idem_key)
) ENGINE=InnoDB`

// Migrate creates the orders table unless it exists.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.SQL.ExecContext(ctx, createTable); err != nil {
		return fmt.Errorf("orders: migrate: %w", err)
	}
	return nil
}

// Place records the order in asks for under key, or, when key already
// placed an order, returns that one with existing true. One statement
// records the order and the key: there is no moment when one exists
// without the other. A concurrent Place of the same key waits on the
// first one's row lock, then finds its order.
func (db *DB) Place(ctx context.Context, key string, in input) (o Order, existing bool, err error) {
	res, err := db.SQL.ExecContext(ctx, "INSERT INTO orders (idem_key, item, quantity, created_ms) VALUES (?, ?, ?, ?)",
		key, in.Item, in.Quantity, time.Now().UnixMilli())
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY: the key placed its order before
		o, err = db.byKey(ctx, key)
		return o, true, err
	}
	if err != nil {
		return Order{}, false, fmt.Errorf("orders: place: %w", err)
	}
	id, err := res.LastInsertId()
	return Order{ID: id, Item: in.Item, Quantity: in.Quantity}, false, err
}

func (db *DB) byKey(ctx context.Context, key string) (Order, error) {
	var o Order
	err := db.SQL.QueryRowContext(ctx, "SELECT id, item, quantity FROM orders WHERE idem_key = ?", key).Scan(&o.ID, &o.Item, &o.Quantity)
	if err != nil {
		return Order{}, fmt.Errorf("orders: find by key: %w", err)
	}
	return o, nil
}

// ByID returns order id, or sql.ErrNoRows.
func (db *DB) ByID(ctx context.Context, id int64) (Order, error) {
	var o Order
	err := db.SQL.QueryRowContext(ctx, "SELECT id, item, quantity FROM orders WHERE id = ?", id).Scan(&o.ID, &o.Item, &o.Quantity)
	return o, err
}
