-- user-delete on Pulsar (Apache `upsert-pulsar`): the user-count job, fed a delete. A tombstone
-- (a message with the user's key and an empty payload) removes the user from `users`; Flink
-- retracts it from its account's count, and an account left with no users is deleted from
-- `user_count_by_account`. The seed's legacy 'topic' is 'topics' here, 'admin-url' is dropped,
-- and its `eventTime … METADATA` is `METADATA FROM 'event_time'`.
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  op STRING,
  eventTime TIMESTAMP_LTZ(3) METADATA FROM 'event_time' VIRTUAL,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/user-delete.users',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
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
