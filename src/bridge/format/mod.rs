//! Message formats beyond `raw` and `json` (which live in [`super::codec`]): each format's
//! codec, and the clients of the services a format needs.

pub mod avro;
pub mod registry;
