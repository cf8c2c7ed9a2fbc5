-- The user-count tutorial on an embedded Flink, with no broker: the users are inline rows and
-- the result goes to Flink's `print` connector. 100-1 changes name, so account 100 still has 2.
SET 'execution.runtime-mode' = 'batch';
SET 'parallelism.default' = '1';

CREATE TEMPORARY VIEW users_changelog (uid, accountId, fullName, version) AS VALUES
  ('100-1', '100', 'Ada Lovelace', 1),
  ('100-2', '100', 'Alan Turing', 1),
  ('101-1', '101', 'Grace Hopper', 1),
  ('101-2', '101', 'Edsger Dijkstra', 1),
  ('100-1', '100', 'Ada King', 2);

-- The latest version of each user, as an upsert topic keyed by uid would hold it.
CREATE TEMPORARY VIEW users AS
SELECT uid, accountId, fullName
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY version DESC) AS rn
  FROM users_changelog
)
WHERE rn = 1;

CREATE TABLE user_count_by_account (
  accountId STRING,
  userCount BIGINT
) WITH (
  'connector' = 'print',
  'print-identifier' = 'user_count_by_account'
);

INSERT INTO user_count_by_account
SELECT accountId, COUNT(*) AS userCount
FROM users
GROUP BY accountId;
