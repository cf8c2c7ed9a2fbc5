-- Stateless (a filter): a changed version resumes from a savepoint (`upgraded`), keeping its
-- offsets: rows it wrote before the change stay as they were.
INSERT INTO big_orders
SELECT order_id, country, amount FROM enriched_orders WHERE amount >= 100;
