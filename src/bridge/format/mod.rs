//! Message formats beyond `raw` and `json` (those two live in [`super::codec`]): Flink's
//! [`csv`] with a table's `csv.*` options, the [`changelog`] formats whose messages are change
//! events rather than rows (`debezium-json`), and a Pulsar topic's registered schema
//! ([`pulsar_schema`]).

pub mod changelog;
pub mod csv;
pub mod pulsar_schema;
