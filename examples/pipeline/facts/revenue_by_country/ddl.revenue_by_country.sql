-- Orders and revenue per country, one row per country on an upsert topic.
CREATE TABLE revenue_by_country (
  country STRING,
  orders BIGINT,
  revenue BIGINT,
  PRIMARY KEY (country) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${ENV}-revenue_by_country',
  'properties.bootstrap.servers' = '${KAFKA}',
  'key.format' = 'json',
  'value.format' = 'json'
);
