-- Customers, the latest row per customer_id on an upsert topic (fed by another system).
CREATE TABLE customers (
  customer_id INT,
  name STRING,
  country STRING,
  PRIMARY KEY (customer_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${ENV}-customers',
  'properties.bootstrap.servers' = '${KAFKA}',
  'key.format' = 'json',
  'value.format' = 'json'
);
