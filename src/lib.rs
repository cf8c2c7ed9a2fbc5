//! flinkit: run Apache Flink SQL without learning Flink.
//!
//! This crate is the embeddable core of the `flinkit` command-line tool:
//!
//! - [`sql`] splits and parses Flink SQL scripts (quotes, comments, hints, statement sets) into
//!   located statements, with a model of `CREATE TABLE`, views and `INSERT`s.
//! - [`connectors`] checks every table's connector options, formats, metadata columns and keys
//!   offline against the bundled connectors' own option catalog.
//! - [`vars`] substitutes `${NAME}` variables and keeps secrets out of everything printed.
//! - [`lineage`] builds the table graph of a script and its parents-first deploy order.
//! - [`launch`] launches a script as one job — locally, through a cluster's REST API or its SQL
//!   Gateway — and returns a [`launch::Job`] to watch it, read its metrics, stop it with a
//!   savepoint or cancel it. Async, on tokio.
//! - [`pipeline`] deploys a folder of tables as many jobs, one per sink table, parents first:
//!   idempotent, upgrading changed stateless jobs from a savepoint and restarting stateful ones.
//! - [`flink`] holds the targets [`launch`] drives: the runner's job spec and events, the local
//!   child JVM, and typed clients of the JobManager REST API and the SQL Gateway.
//! - [`provision`] obtains and caches Java, the runner jar and Flink's runtime classpath.
//! - [`stack`] runs a local Flink session cluster, SQL Gateway, Kafka and Pulsar (as processes
//!   or with Docker) and checks their health.
//! - [`bridge`] feeds and reads the Kafka and Pulsar topics behind tables; [`bridge::client`]
//!   is its async API: sends that resolve on delivery, consumers that are `Stream`s, and the
//!   upsert view awaited until it holds the expected rows.
//! - [`demo`] runs the bundled tutorials end to end: records in, a job on a cluster, the
//!   materialized result table out.
//! - [`config`] loads settings in layers (defaults, user file, `flinkit.toml`, `FLINKIT_*`) and
//!   says where state and cache live.
//! - [`versions`] says which Flink, connector, Kafka and Pulsar versions flinkit runs.

pub mod bridge;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod flink;
pub mod jars;
pub mod launch;
pub mod lineage;
pub mod pipeline;
pub mod provision;
pub mod run;
pub mod sql;
pub mod stack;
pub mod vars;
pub mod versions;

/// The README's Rust examples, compiled and run as doctests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
