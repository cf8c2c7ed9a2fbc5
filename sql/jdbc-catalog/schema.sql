-- The PostgreSQL tables the jdbc-catalog tutorial reads and writes, and the orders it reads.
CREATE TABLE IF NOT EXISTS orders (
  id INT PRIMARY KEY,
  account TEXT NOT NULL,
  amount NUMERIC(10, 2) NOT NULL
);
CREATE TABLE IF NOT EXISTS account_totals (
  account TEXT PRIMARY KEY,
  orders BIGINT NOT NULL,
  total NUMERIC(12, 2) NOT NULL
);
INSERT INTO orders VALUES
  (1, 'alice', 10.50), (2, 'bob', 3.00), (3, 'alice', 4.25), (4, 'carol', 7.00), (5, 'bob', 1.00)
ON CONFLICT (id) DO NOTHING;
