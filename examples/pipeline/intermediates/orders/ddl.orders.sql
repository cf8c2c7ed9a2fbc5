-- Every order, whichever channel it came through, on a Kafka topic of the environment.
CREATE TABLE orders (
  order_id BIGINT,
  customer_id INT,
  amount DOUBLE,
  channel STRING
) WITH (
  'connector' = 'kafka',
  'topic' = '${ENV}-orders',
  'properties.bootstrap.servers' = 'localhost:9092',
  'properties.group.id' = '${ENV}-orders',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'json'
);
