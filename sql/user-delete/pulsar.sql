-- user-delete on Pulsar (Apache `upsert-pulsar`): users per account again, now with deletes. A
-- tombstone — a message with a user's key and an empty payload — removes the user from `users`,
-- and Flink takes it out of its account's count.
--
-- `users` is its key (uid and accountId, as a JSON key), as on Kafka. Apache's Pulsar
-- connector 4.1.0 fails on tombstones; the runner jar patches it (jars/README.md).
-- The seed's legacy options map as in user-count: 'topic' is 'topics', 'admin-url' is dropped.
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  PRIMARY KEY (uid, accountId) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/user-delete.users',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'json',
  'value.format' = 'json'
);

CREATE TABLE user_count_by_account (
  accountId STRING,
  userCount BIGINT,
  PRIMARY KEY (accountId) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/user-delete.user_count_by_account',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
