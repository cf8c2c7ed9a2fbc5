-- Orders from the physical shops: a generated stream, one a second.
CREATE TABLE shop_orders (
  order_id BIGINT,
  customer_id INT,
  amount DOUBLE
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1',
  'fields.customer_id.min' = '1',
  'fields.customer_id.max' = '5',
  'fields.amount.min' = '1',
  'fields.amount.max' = '100'
);
