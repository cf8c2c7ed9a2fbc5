-- favorite-color-cheese on Pulsar (Apache `upsert-pulsar`): each user with their favorite color
-- and cheese; users without favorites keep NULLs. The seed's legacy 'topic' option is 'topics'
-- here and 'admin-url' is not needed.
--
-- Known to fail today: the LEFT JOINs retract rows, and the Apache Pulsar connector 4.1.0 turns
-- a DELETE for an upsert sink into a message without a payload, which it refuses ("Message
-- should be provided"). The Kafka variant runs.

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
