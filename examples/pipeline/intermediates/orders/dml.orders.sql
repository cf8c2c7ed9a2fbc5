-- Stateless: a changed version of this job resumes from a savepoint (`upgraded`).
INSERT INTO orders
SELECT order_id, customer_id, amount, 'web' FROM web_orders
UNION ALL
SELECT order_id, customer_id, amount, 'shop' FROM shop_orders;
