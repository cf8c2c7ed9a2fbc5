-- Revenue per customer, one row per key on an upsert topic of the environment.
CREATE TABLE revenue_by_customer (
  customer_id INT,
  orders BIGINT,
  revenue DOUBLE,
  PRIMARY KEY (customer_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '${ENV}-revenue_by_customer',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'json',
  'value.format' = 'json'
);
