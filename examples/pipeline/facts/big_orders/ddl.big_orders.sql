-- The orders of 100 or more, one row per order on an upsert topic.
CREATE TABLE big_orders (
  order_id BIGINT,
  country STRING,
  amount INT,
  PRIMARY KEY (order_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${ENV}-big_orders',
  'properties.bootstrap.servers' = '${KAFKA}',
  'key.format' = 'json',
  'value.format' = 'json'
);
