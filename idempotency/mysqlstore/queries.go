package mysqlstore

import "strings"

// queries holds the Store's SQL for one table. Only SQL that both MySQL 8
// and MariaDB 10.11 accept is used. Each UPDATE assignment reads only
// columns assigned after it, so the result is the same whether the server
// assigns left to right (MySQL) or simultaneously (MariaDB's
// SIMULTANEOUS_ASSIGNMENT mode).
type queries struct {
	create, columns, get, takeOver, insertClaim, release, put, deleteExpired string
	// added are the columns that tables of earlier versions lack, in the
	// order they came, each with the ALTER TABLE that adds it.
	added []column
}

type column struct{ name, add string }

func newQueries(table string) queries {
	r := strings.NewReplacer("$T", table)
	return queries{
		// idem_key holds a scoped key (idempotency.ScopedKey): a scope of
		// up to 256 bytes, a space and a key of up to 255. A table of an
		// earlier version keeps VARBINARY(255): a longer scoped key fails
		// there like a Store outage (the Guard falls back to the fence).
		create: r.Replace(`CREATE TABLE IF NOT EXISTS $T (
	idem_key VARBINARY(512) NOT NULL,
	token VARBINARY(64) NULL,
	claim_expires BIGINT NOT NULL DEFAULT 0,
	record_expires BIGINT NOT NULL DEFAULT 0,
	fingerprint BLOB NULL,
	status INT NOT NULL DEFAULT 0,
	content_type BLOB NULL,
	header BLOB NULL,
	created BIGINT NOT NULL DEFAULT 0,
	body LONGBLOB NULL,
	PRIMARY KEY (idem_key),
	KEY record_expires (record_expires)
) ENGINE=InnoDB`),
		// columns and added bring a table of an earlier version up to date:
		// records had no headers, then no Created time (created is unix
		// milliseconds, 0 for none).
		columns: `SELECT COLUMN_NAME FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
		added: []column{
			{"header", r.Replace(`ALTER TABLE $T ADD COLUMN header BLOB NULL AFTER content_type`)},
			{"created", r.Replace(`ALTER TABLE $T ADD COLUMN created BIGINT NOT NULL DEFAULT 0 AFTER header`)},
		},
		get: r.Replace(`SELECT fingerprint, status, content_type, header, created, body FROM $T
WHERE idem_key = ? AND record_expires > ?`),
		// takeOver claims a row whose claim and record have both expired.
		takeOver: r.Replace(`UPDATE $T SET token = ?, claim_expires = ?, record_expires = 0,
	fingerprint = NULL, status = 0, content_type = NULL, header = NULL, created = 0, body = NULL
WHERE idem_key = ? AND claim_expires <= ? AND record_expires <= ?`),
		insertClaim: r.Replace(`INSERT INTO $T (idem_key, token, claim_expires) VALUES (?, ?, ?)`),
		release: r.Replace(`UPDATE $T SET token = NULL, claim_expires = 0
WHERE idem_key = ? AND token = ?`),
		// put inserts the record, or sets it on a row whose record expired;
		// record_expires is assigned last, so every test reads its old value.
		put: r.Replace(`INSERT INTO $T (idem_key, fingerprint, status, content_type, header, created, body, record_expires)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
	fingerprint = IF(record_expires <= ?, ?, fingerprint),
	status = IF(record_expires <= ?, ?, status),
	content_type = IF(record_expires <= ?, ?, content_type),
	header = IF(record_expires <= ?, ?, header),
	created = IF(record_expires <= ?, ?, created),
	body = IF(record_expires <= ?, ?, body),
	record_expires = IF(record_expires <= ?, ?, record_expires)`),
		deleteExpired: r.Replace(`DELETE FROM $T WHERE record_expires <= ? AND claim_expires <= ? LIMIT ?`),
	}
}
