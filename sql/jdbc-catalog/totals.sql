-- A JDBC catalog: the script reads and writes PostgreSQL tables without declaring them. Flink's
-- catalog reads their columns and primary keys from the database; flinkit fetches the jdbc
-- connector (which provides the catalog) and the PostgreSQL driver the first time.
-- The tables come from `psql -f sql/jdbc-catalog/schema.sql`.
CREATE CATALOG pg WITH (
  'type' = 'jdbc',
  'base-url' = 'jdbc:postgresql://localhost:5432',
  'default-database' = 'flinkit',
  'username' = 'flinkit',
  'password' = 'not-checked'
);

-- Each account's number of orders and their total, upserted by the primary key `account`.
INSERT INTO pg.flinkit.account_totals
SELECT account, COUNT(*) AS orders, SUM(amount) AS total
FROM pg.flinkit.orders
GROUP BY account;
