-- The PostgreSQL table behind user-count's jdbc sink (postgres.sql): one row per account.
CREATE TABLE IF NOT EXISTS user_count_by_account (
  accountId TEXT PRIMARY KEY,
  userCount BIGINT NOT NULL
);
