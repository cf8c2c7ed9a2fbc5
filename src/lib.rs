//! flinkit: run Apache Flink SQL without learning Flink.
//!
//! This crate is the embeddable core of the `flinkit` command-line tool:
//!
//! - [`sql`] splits and parses Flink SQL scripts (quotes, comments, hints, statement sets) into
//!   located statements, with a model of `CREATE TABLE`, views and `INSERT`s.
//! - [`lineage`] builds the table graph of a script and its parents-first deploy order.

pub mod lineage;
pub mod sql;

/// The README's Rust examples, compiled and run as doctests so the README cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
