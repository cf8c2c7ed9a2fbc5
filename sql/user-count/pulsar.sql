-- user-count on Pulsar: how many users each account has, kept up to date as users change.
-- Uses the Apache Flink Pulsar connector (`upsert-pulsar`). The seed tutorial used the legacy
-- StreamNative options: 'topic' is 'topics' here, and 'admin-url' is not needed.
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  op STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/users',
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
  'topics' = 'persistent://public/default/user_count_by_account',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
