-- user-delete on Kafka: the user-count job, fed a delete. A tombstone (a record with the user's
-- key and a null value) removes the user from `users`; Flink retracts it from its account's
-- count, and an account left with no users is deleted from `user_count_by_account`.
-- Source: the upsert topic `user-delete.users`, keyed by uid (raw string key, JSON value).
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  op STRING,
  eventTime TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-delete.users',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
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
