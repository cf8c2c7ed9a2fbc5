-- Orders from the web shop: a generated stream, two a second.
CREATE TABLE web_orders (
  order_id BIGINT,
  customer_id INT,
  amount DOUBLE
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '2',
  'fields.customer_id.min' = '1',
  'fields.customer_id.max' = '5',
  'fields.amount.min' = '1',
  'fields.amount.max' = '100'
);
