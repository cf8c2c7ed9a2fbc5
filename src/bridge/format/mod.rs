//! Message formats beyond `raw` and `json` (those two live in [`super::codec`]): Flink's
//! [`csv`] with a table's `csv.*` options, the [`changelog`] formats whose messages are change
//! events rather than rows (`debezium-json`), a Pulsar topic's registered schema
//! ([`pulsar_schema`]), and Flink's [`avro`] and `avro-confluent` with the Schema [`registry`]
//! client they need.

pub mod avro;
pub mod changelog;
pub mod csv;
pub mod pulsar_schema;
pub mod registry;
