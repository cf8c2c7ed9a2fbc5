-- Stateful (GROUP BY): a changed version restarts with fresh state (`restarted`), reading
-- enriched_orders from its start, so no total keeps a contribution of the old logic.
INSERT INTO revenue_by_country
SELECT country, COUNT(*), SUM(CAST(amount AS BIGINT)) FROM enriched_orders GROUP BY country;
