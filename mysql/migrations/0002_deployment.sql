-- The deployment's identity: one row, created once by the first instance
-- that starts (mysql.Identity). Its id is in every Redis key name of the
-- deployment, so deployments sharing a Redis never see each other's keys,
-- and its secret authenticates every record cached in Redis (HMAC-SHA256),
-- so forged or foreign Redis content is never replayed.
CREATE TABLE IF NOT EXISTS sum_deployment (
  id            TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  deployment_id VARCHAR(32)      NOT NULL,
  secret        VARBINARY(64)    NOT NULL
) ENGINE=InnoDB;
