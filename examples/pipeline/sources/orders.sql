-- Orders, an append-only topic (fed by another system), read from its start.
CREATE TABLE orders (
  order_id BIGINT,
  customer_id INT,
  amount INT
) WITH (
  'connector' = 'kafka',
  'topic' = '${ENV}-orders',
  'properties.bootstrap.servers' = '${KAFKA}',
  'properties.group.id' = '${ENV}-pipeline',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);
