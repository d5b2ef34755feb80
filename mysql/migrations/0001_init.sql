-- The running total: one row, exact to 65 digits, never wraps.
CREATE TABLE IF NOT EXISTS sum_total (
  id    TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  total DECIMAL(65,0)    NOT NULL
) ENGINE=InnoDB;

INSERT INTO sum_total (id, total) VALUES (1, 0) ON DUPLICATE KEY UPDATE id = id;

-- One row per keyed addition. The primary key on idem_key is the final
-- fence of exactly-once: a second insert of a key fails. VARBINARY keeps
-- keys case-sensitive. total is the total right after this addition.
CREATE TABLE IF NOT EXISTS sum_ledger (
  idem_key   VARBINARY(255)  NOT NULL PRIMARY KEY,
  number     BIGINT UNSIGNED NOT NULL,
  total      DECIMAL(65,0)   NOT NULL,
  created_ms BIGINT          NOT NULL,
  KEY sum_ledger_created (created_ms)
) ENGINE=InnoDB;
