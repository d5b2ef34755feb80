-- applied-if: SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'sum_ledger' AND column_name = 'client'
-- Keys are scoped per client: the fence is the primary key (client,
-- idem_key). Every existing row becomes the anonymous client (''), which is
-- also what an instance of the previous version writes, since it names no
-- client column: old and new instances fence each other's anonymous keys.
-- In place, without blocking reads or writes (MySQL 8 and MariaDB rebuild
-- the table online); see docs/design.md#key-scope.
ALTER TABLE sum_ledger
  ADD COLUMN client VARBINARY(64) NOT NULL DEFAULT '' FIRST,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (client, idem_key),
  ALGORITHM=INPLACE, LOCK=NONE;
