-- user-count on Pulsar: how many users each account has, kept up to date as users change.
-- Uses the Apache Flink Pulsar connector (`upsert-pulsar`). The seed tutorial used the legacy
-- StreamNative options, which map like this (`flinkit validate --fix` rewrites them):
--   'topic' = '…'                      ->  'topics' = '…'
--   'admin-url' = '…'                  ->  (dropped: the Apache connector needs no admin URL)
--   eventTime TIMESTAMP(3) METADATA    ->  eventTime TIMESTAMP_LTZ(3) METADATA FROM 'event_time'
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
  'topics' = 'persistent://public/default/user-count.users',
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
  'topics' = 'persistent://public/default/user-count.user_count_by_account',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
