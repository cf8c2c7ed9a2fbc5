-- favorite-color-cheese on Pulsar (Apache `upsert-pulsar`): each user with their favorite color
-- and cheese; users without favorites keep NULLs. The seed's legacy 'topic' option is 'topics'
-- here and 'admin-url' is not needed.
--
-- The LEFT JOINs retract rows, which the upsert sink writes as tombstones. Apache's Pulsar
-- connector 4.1.0 refuses them ("Message should be provided"); flinkit's runner jar carries
-- patched copies of its table (de)serialization classes (jars/README.md), so this runs on a
-- runner built from this tree (local target, or a stack started with it).

CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/favorite-color-cheese.users',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

CREATE TABLE user_favorite_color (
  uid STRING,
  color STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/favorite-color-cheese.user_favorite_color',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

CREATE TABLE user_favorite_cheese (
  uid STRING,
  cheese STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/favorite-color-cheese.user_favorite_cheese',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

CREATE TABLE user_favorite_color_and_cheese (
  accountId STRING,
  uid STRING,
  color STRING,
  cheese STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-pulsar',
  'topics' = 'persistent://public/default/favorite-color-cheese.user_favorite_color_and_cheese',
  'service-url' = 'pulsar://localhost:6650',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_favorite_color_and_cheese
SELECT u.accountId, u.uid, c.color, ch.cheese
FROM users AS u
LEFT JOIN user_favorite_color AS c ON u.uid = c.uid
LEFT JOIN user_favorite_cheese AS ch ON u.uid = ch.uid;
