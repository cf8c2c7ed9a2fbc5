-- Stateful (GROUP BY): a changed version of this job restarts with fresh state (`restarted`).
INSERT INTO revenue_by_customer
SELECT customer_id, COUNT(*), SUM(amount) FROM orders GROUP BY customer_id;
