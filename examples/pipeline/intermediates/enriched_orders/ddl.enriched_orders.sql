-- Each order with its customer's country, one row per order on an upsert topic.
CREATE TABLE enriched_orders (
  order_id BIGINT,
  customer_id INT,
  country STRING,
  amount INT,
  PRIMARY KEY (order_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${ENV}-enriched_orders',
  'properties.bootstrap.servers' = '${KAFKA}',
  'key.format' = 'json',
  'value.format' = 'json'
);
