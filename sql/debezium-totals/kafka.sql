-- debezium-totals on Kafka: a Debezium changelog of orders feeding an aggregation.
-- Source: `debezium-totals.orders`, Debezium JSON change events ({"op","before","after"}), as a
-- CDC connector writes them; Flink reads `c`/`r` as inserts, `u` as an update (the `before` row
-- retracted, the `after` row added) and `d` as a delete.
CREATE TABLE orders (
  id INT,
  customer STRING,
  amount DECIMAL(10, 2),
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'kafka',
  'topic' = 'debezium-totals.orders',
  'properties.bootstrap.servers' = 'localhost:9092',
  'scan.startup.mode' = 'earliest-offset',
  'format' = 'debezium-json'
);

-- Sink: each customer's order count and total, kept up to date as orders change or go.
CREATE TABLE totals (
  customer STRING,
  orders BIGINT,
  total DECIMAL(20, 2),
  PRIMARY KEY (customer) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'debezium-totals.totals',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

-- The same totals as a Debezium changelog, written by Flink (`d` then `c` for an update).
CREATE TABLE totals_changelog (
  customer STRING,
  orders BIGINT,
  total DECIMAL(20, 2),
  PRIMARY KEY (customer) NOT ENFORCED
) WITH (
  'connector' = 'kafka',
  'topic' = 'debezium-totals.totals_changelog',
  'properties.bootstrap.servers' = 'localhost:9092',
  'format' = 'debezium-json'
);

EXECUTE STATEMENT SET BEGIN
INSERT INTO totals SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;
INSERT INTO totals_changelog SELECT customer, COUNT(*), SUM(amount) FROM orders GROUP BY customer;
END;
