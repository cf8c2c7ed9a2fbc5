-- user-count with a PostgreSQL sink: the same count per account as kafka.sql, kept up to date
-- in a PostgreSQL table with a primary key (Flink's jdbc connector upserts by it). flinkit
-- fetches the jdbc connector and the PostgreSQL driver from Maven Central the first time and
-- checks the table's options like the bundled connectors'. The table must exist:
-- `psql -f sql/user-count/postgres-schema.sql` creates it.
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  op STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-count.users',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

-- Sink: the PostgreSQL table `user_count_by_account` of the stack's database `flinkit` (user
-- flinkit, trusted on loopback: the password is not checked, but Flink wants both or neither;
-- a real one would be passed as ${PG_PASSWORD}, which flinkit masks in its output).
CREATE TABLE user_count_by_account (
  accountId STRING,
  userCount BIGINT,
  PRIMARY KEY (accountId) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:postgresql://localhost:5432/flinkit',
  'table-name' = 'user_count_by_account',
  'username' = 'flinkit',
  'password' = 'not-checked',
  'sink.buffer-flush.max-rows' = '1'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
