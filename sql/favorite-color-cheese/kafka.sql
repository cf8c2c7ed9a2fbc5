-- favorite-color-cheese on Kafka: each user with their favorite color and cheese; users
-- without favorites keep NULLs (LEFT JOINs). Every table is an upsert topic keyed by uid.

CREATE TABLE users (
  uid STRING,
  accountId STRING,
  id INT,
  fullName STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'favorite-color-cheese.users',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

CREATE TABLE user_favorite_color (
  uid STRING,
  color STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'favorite-color-cheese.user_favorite_color',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

CREATE TABLE user_favorite_cheese (
  uid STRING,
  cheese STRING,
  PRIMARY KEY (uid) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'favorite-color-cheese.user_favorite_cheese',
  'properties.bootstrap.servers' = 'localhost:9092',
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
  'connector' = 'upsert-kafka',
  'topic' = 'favorite-color-cheese.user_favorite_color_and_cheese',
  'properties.bootstrap.servers' = 'localhost:9092',
  'key.format' = 'raw',
  'value.format' = 'json'
);

INSERT INTO user_favorite_color_and_cheese
SELECT u.accountId, u.uid, c.color, ch.cheese
FROM users AS u
LEFT JOIN user_favorite_color AS c ON u.uid = c.uid
LEFT JOIN user_favorite_cheese AS ch ON u.uid = ch.uid;
