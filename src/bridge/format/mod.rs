//! Message formats beyond `raw` and `json` (those two live in [`super::codec`]): Flink's
//! [`csv`] with a table's `csv.*` options, and the [`changelog`] formats whose messages are
//! change events rather than rows (`debezium-json`).

pub mod changelog;
pub mod csv;
