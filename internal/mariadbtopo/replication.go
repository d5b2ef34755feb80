package mariadbtopo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// replUser is the account replicas connect to their primary as.
const replUser, replPassword = "repl", "repl"

// Replicate makes replica replicate from primary, dialling it at addr
// ("" means primary.Addr; a proxy puts a network between them), with GTID
// (MASTER_USE_GTID=slave_pos, from the primary's first transaction when
// the replica is fresh), and returns once both replication threads run
// and, if the primary was started with SemiSyncPrimary, semi-synchronous
// replication is on and counts the replica as its client. It creates the
// replication user on the primary if missing.
func Replicate(ctx context.Context, primary, replica *Server, addr string) error {
	if err := primary.Exec(ctx,
		"CREATE USER IF NOT EXISTS '"+replUser+"'@'%' IDENTIFIED BY '"+replPassword+"'",
		"GRANT REPLICATION SLAVE ON *.* TO '"+replUser+"'@'%'",
	); err != nil {
		return err
	}
	semiSync := primary.opts.SemiSyncPrimary
	if semiSync {
		if err := primary.Exec(ctx, "SET GLOBAL rpl_semi_sync_master_enabled = ON"); err != nil {
			return err
		}
	}
	if addr == "" {
		addr = primary.Addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if err := replica.Exec(ctx,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			host, port, replUser, replPassword),
		"START SLAVE",
	); err != nil {
		return err
	}
	err = poll(ctx, func() (bool, error) {
		st, err := replica.ReplicaStatus(ctx)
		if err != nil {
			return false, err
		}
		if st["Last_IO_Errno"] != "0" && st["Last_IO_Errno"] != "" && st["Slave_IO_Running"] == "No" {
			return false, fmt.Errorf("%s: replication IO error %s: %s", replica.Name, st["Last_IO_Errno"], st["Last_IO_Error"])
		}
		return st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes", nil
	})
	if err != nil {
		return fmt.Errorf("%s: replication threads not running: %w", replica.Name, err)
	}
	if !semiSync {
		return nil
	}
	return poll(ctx, func() (bool, error) {
		ss, err := primary.SemiSync(ctx)
		return ss.Clients > 0 && ss.On, err
	})
}

// CaughtUp waits until replica has applied every transaction that primary
// has written to its binary log by now.
func CaughtUp(ctx context.Context, primary, replica *Server) error {
	var pos string
	if err := primary.root.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("%s: read gtid_binlog_pos: %w", primary.Name, err)
	}
	return waitGTID(ctx, replica, pos)
}

// waitGTID waits until s has applied the GTID position pos.
func waitGTID(ctx context.Context, s *Server, pos string) error {
	if pos == "" {
		return nil
	}
	timeout := 30.0
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d).Seconds(), 0)
	}
	var got sql.NullInt64
	if err := s.root.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout).Scan(&got); err != nil {
		return fmt.Errorf("%s: MASTER_GTID_WAIT(%s): %w", s.Name, pos, err)
	}
	if got.Int64 != 0 {
		return fmt.Errorf("%s: has not applied GTID position %s within %.0fs", s.Name, pos, timeout)
	}
	return nil
}

// Promotion is what Promote found.
type Promotion struct {
	Received string        // GTID position of the last transaction the replica had received (Gtid_IO_Pos)
	Applied  string        // gtid_slave_pos once everything received was applied
	Took     time.Duration // from the call until the server took writes
}

// Promote turns replica into a primary after its primary died: it stops
// receiving (STOP SLAVE IO_THREAD), waits until the SQL thread has applied
// everything already in the relay log — a transaction the dead primary
// acknowledged under semi-synchronous replication may be there and not
// applied yet, and RESET SLAVE ALL would delete it — then stops
// replication for good (STOP SLAVE; RESET SLAVE ALL) and takes writes
// (read_only=OFF).
func Promote(ctx context.Context, replica *Server) (Promotion, error) {
	start := time.Now()
	var p Promotion
	if err := replica.Exec(ctx, "STOP SLAVE IO_THREAD"); err != nil {
		return p, err
	}
	st, err := replica.ReplicaStatus(ctx)
	if err != nil {
		return p, err
	}
	p.Received = st["Gtid_IO_Pos"]
	if err := waitGTID(ctx, replica, p.Received); err != nil {
		return p, err
	}
	if err := replica.root.QueryRowContext(ctx, "SELECT @@global.gtid_slave_pos").Scan(&p.Applied); err != nil {
		return p, fmt.Errorf("%s: read gtid_slave_pos: %w", replica.Name, err)
	}
	if err := replica.Exec(ctx, "STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF"); err != nil {
		return p, err
	}
	p.Took = time.Since(start)
	return p, nil
}

// ReplicaStatus returns SHOW SLAVE STATUS of s by column name, or an empty
// map when s replicates from nowhere.
func (s *Server) ReplicaStatus(ctx context.Context) (map[string]string, error) {
	rows, err := s.root.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", s.Name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	st := map[string]string{}
	if !rows.Next() {
		return st, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, c := range cols {
		st[c] = vals[i].String
	}
	return st, rows.Err()
}

// SemiSync is the primary side of semi-synchronous replication on a
// server, from its Rpl_semi_sync_master_* status variables.
type SemiSync struct {
	On      bool  // Rpl_semi_sync_master_status: commits wait for a replica's acknowledgement now
	Clients int64 // Rpl_semi_sync_master_clients: semi-synchronous replicas connected
	YesTx   int64 // Rpl_semi_sync_master_yes_tx: commits acknowledged by a replica
	NoTx    int64 // Rpl_semi_sync_master_no_tx: commits not acknowledged (made while it had fallen back to asynchronous)
	NoTimes int64 // Rpl_semi_sync_master_no_times: how often it fell back to asynchronous
	Waiting int64 // Rpl_semi_sync_master_wait_sessions: commits waiting for an acknowledgement now
}

// SemiSync reads the semi-synchronous replication status of s.
func (s *Server) SemiSync(ctx context.Context) (SemiSync, error) {
	rows, err := s.root.QueryContext(ctx, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")
	if err != nil {
		return SemiSync{}, fmt.Errorf("%s: semi-sync status: %w", s.Name, err)
	}
	defer rows.Close()
	var ss SemiSync
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return ss, err
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch name {
		case "Rpl_semi_sync_master_status":
			ss.On = value == "ON"
		case "Rpl_semi_sync_master_clients":
			ss.Clients = n
		case "Rpl_semi_sync_master_yes_tx":
			ss.YesTx = n
		case "Rpl_semi_sync_master_no_tx":
			ss.NoTx = n
		case "Rpl_semi_sync_master_no_times":
			ss.NoTimes = n
		case "Rpl_semi_sync_master_wait_sessions":
			ss.Waiting = n
		}
	}
	return ss, rows.Err()
}

// errDeadline is poll's error when ctx ends before cond holds.
var errDeadline = errors.New("deadline passed")

// poll calls cond every 20ms until it holds, fails, or ctx is done.
func poll(ctx context.Context, cond func() (bool, error)) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", errDeadline, ctx.Err())
		case <-t.C:
		}
	}
}
