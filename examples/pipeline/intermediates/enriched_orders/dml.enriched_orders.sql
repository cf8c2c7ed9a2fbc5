-- Stateful (JOIN): a changed version restarts with fresh state, and so do its stateful children.
SET 'execution.checkpointing.interval' = '10 s';
INSERT INTO enriched_orders
SELECT o.order_id, o.customer_id, c.country, o.amount
FROM orders AS o
JOIN customers AS c ON o.customer_id = c.customer_id;
