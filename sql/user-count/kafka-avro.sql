-- user-count on Kafka in Avro with a Schema Registry: the kafka.sql tutorial with every key and
-- value in `avro-confluent` (the schemas Flink derives from the columns, registered under
-- `<topic>-key` and `<topic>-value` in the stack's Schema Registry).
CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  op STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-count-avro.users',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'avro-confluent',
  'key.avro-confluent.url' = 'http://localhost:8085/apis/ccompat/v7',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = 'http://localhost:8085/apis/ccompat/v7'
);

-- Sink: one row per account, in Avro too.
CREATE TABLE user_count_by_account (
  accountId STRING,
  userCount BIGINT,
  PRIMARY KEY (accountId) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user-count-avro.user_count_by_account',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'avro-confluent',
  'key.avro-confluent.url' = 'http://localhost:8085/apis/ccompat/v7',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = 'http://localhost:8085/apis/ccompat/v7'
);

INSERT INTO user_count_by_account (accountId, userCount)
SELECT accountId, COUNT(1) AS userCount
FROM users
GROUP BY accountId;
