-- user-delete on Kafka: users per account again, now with deletes. A tombstone — a record with
-- a user's key and a null value — removes the user from `users`, and Flink takes it out of its
-- account's count. `users` keeps only its key (uid and accountId, a JSON key), the shape whose
-- tombstones Apache's `upsert-pulsar` also reads (see pulsar.sql), so both brokers run the same
-- tutorial. Each tutorial has topics of its own (`user-delete.*`).
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  PRIMARY KEY (uid, accountId) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-delete.users',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'json',
  'value.format' = 'json'
);

-- Sink: the upsert topic `user-delete.user_count_by_account`, one row per account.
CREATE TABLE user_count_by_account (
  accountId STRING,
  userCount BIGINT,
  PRIMARY KEY (accountId) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-delete.user_count_by_account',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
