//! What a Flink line refuses that its option catalog cannot say: a table on a connector the line
//! has no release of (Pulsar on Flink 2.x), and `SET` keys the line removed.

use super::{Severity, Validator};
use crate::sql::{Detail, Statement, TableOption};

/// Keys that Flink 1.20 reads and Flink 2.x no longer knows, with what to do instead. Found by
/// comparing the configuration keys in the option classes of Flink 1.20.3's and 2.2.0's
/// `flink-core`, `flink-runtime`, `flink-streaming-java`, `flink-clients` and
/// `flink-table-api-java`; only those a SQL script may `SET` are listed.
const REMOVED_IN_2: &[(&str, &str)] = &[
    (
        "table.exec.shuffle-mode",
        "set 'execution.batch-shuffle-mode' (ALL_EXCHANGES_BLOCKING, ALL_EXCHANGES_PIPELINED, …) instead",
    ),
    (
        "table.exec.topn-cache-size",
        "remove it: Flink 2 sizes the Top-N cache itself",
    ),
    (
        "pipeline.time-characteristic",
        "remove it: Flink 2 always uses event time, and processing time through PROCTIME()",
    ),
    (
        "pipeline.auto-type-registration",
        "remove it: Flink 2 no longer registers types with Kryo",
    ),
    (
        "pipeline.registered-kryo-types",
        "register the types under 'pipeline.serialization-config' instead",
    ),
    (
        "pipeline.registered-pojo-types",
        "register the types under 'pipeline.serialization-config' instead",
    ),
    (
        "execution.checkpointing.force",
        "remove it: Flink 2 checkpoints every job it can checkpoint",
    ),
    (
        "state.backend.async",
        "remove it: Flink 2's state backends always snapshot asynchronously",
    ),
];

/// The connectors that have no release for Flink 2.x.
const NOT_ON_2: &[&str] = &["pulsar", "upsert-pulsar"];

impl Validator<'_> {
    /// Whether the catalog is a Flink 2.x runner's.
    fn on_flink_2(&self) -> bool {
        self.catalog.flink_version.starts_with("2.")
    }

    /// `SET` statements whose key the catalog's Flink line removed.
    pub(super) fn line_rules(&mut self) {
        if !self.on_flink_2() {
            return;
        }
        let flink = self.catalog.flink_version.clone();
        for stmt in &self.script.statements {
            let Detail::Set(set) = &stmt.detail else {
                continue;
            };
            let Some(key) = set.key.as_deref() else {
                continue;
            };
            let Some((_, instead)) = REMOVED_IN_2.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            let start = stmt.range.start + stmt.text.find(key).unwrap_or(0);
            self.push(
                stmt,
                Severity::Error,
                "removed-option",
                format!("'{key}' was removed in Flink 2.0, and the target runs Flink {flink}"),
                start..start + key.len(),
                Some(key),
                Some((*instead).to_string()),
            );
        }
    }

    /// Refuses a table whose connector has no release for the catalog's Flink line, saying why
    /// and what to do; returns whether it did.
    pub(super) fn refuse_missing_connector(
        &mut self,
        stmt: &Statement,
        table: &str,
        option: &TableOption,
        identifier: &str,
    ) -> bool {
        if !self.on_flink_2() || !NOT_ON_2.contains(&identifier) {
            return false;
        }
        let message = format!(
            "table `{table}`: the Apache Flink Pulsar connector has no release for Flink 2.x (the newest, {}, is built for Flink 1.18–1.20), and the target runs Flink {}",
            crate::versions::pulsar_connector(),
            self.catalog.flink_version
        );
        self.push(
            stmt,
            Severity::Error,
            "connector-not-on-line",
            message,
            option.value_span.clone(),
            Some("connector"),
            Some(
                "run this script on Flink 1.20: a 1.20 cluster (`flinkit stack up`, the default), or `launch --flink-version 1.20` locally"
                    .into(),
            ),
        );
        true
    }
}
