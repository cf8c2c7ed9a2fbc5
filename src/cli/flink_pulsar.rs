//! Before a job starts: each Pulsar table the script reads or writes against its topic's
//! registered schema, so that what Flink's Pulsar connector would fail on (a table that is not
//! the schema's record, a sink the namespace refuses) is explained, located, and nothing runs.

use std::collections::BTreeMap;
use std::time::Duration;

use flinkit::bridge::format::pulsar_schema::{
    FLINK_SINK_VALIDATES, schema_validation_enforced, topic_schema,
};
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::{Broker, Endpoint};
use flinkit::sql::Script;
use flinkit::vars::Substituted;

use super::InvalidInput;

/// How long each admin API call may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Checks the script's Pulsar tables (those an INSERT writes or reads) against their topics'
/// schemas; the first refusal is the error (exit 2), located at the table's `CREATE TABLE`.
/// An admin API that does not answer is a warning: the job is started as it would be.
pub(super) fn check(script: &Script, values: &Substituted) -> anyhow::Result<()> {
    // Table name → whether a job writes it.
    let mut used: BTreeMap<&str, bool> = BTreeMap::new();
    for statement in &script.statements {
        for insert in statement.inserts() {
            for source in &insert.sources {
                used.entry(source.as_str()).or_insert(false);
            }
            used.insert(insert.target.as_str(), true);
        }
    }
    for (name, writes) in used {
        let Some(statement) = script.statements.iter().rev().find(|s| {
            s.create_table()
                .is_some_and(|t| t.name == name && is_pulsar(t.connector()))
        }) else {
            continue;
        };
        let Ok(table) = TableSpec::from_script(script, values, name) else {
            continue;
        };
        let validates = statement
            .create_table()
            .and_then(|t| t.option(FLINK_SINK_VALIDATES))
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if let Some(why) = refusal(&table, writes, validates)? {
            let source = &script.sources[statement.source];
            return Err(InvalidInput(format!(
                "{}:{}: table `{name}`: {why}",
                source.name(),
                statement.line
            ))
            .into());
        }
    }
    Ok(())
}

fn is_pulsar(connector: Option<&str>) -> bool {
    matches!(connector, Some("pulsar" | "upsert-pulsar"))
}

/// Why Flink cannot run `table` on one of its topics, if it cannot.
fn refusal(table: &TableSpec, writes: bool, validates: bool) -> anyhow::Result<Option<String>> {
    if table.endpoint.broker != Broker::Pulsar {
        return Ok(None);
    }
    let Some(admin) = super::produce::pulsar_admin(&table.endpoint)? else {
        return Ok(None);
    };
    super::block_on(async {
        for topic in &table.topics {
            match schema_of(&admin, topic, &table.endpoint).await {
                Ok(Some(schema)) => {
                    let enforced = writes
                        && !validates
                        && schema_validation_enforced(
                            &admin,
                            topic,
                            &table.endpoint.settings,
                            TIMEOUT,
                        )
                        .await
                        .unwrap_or(false);
                    if let Some(why) =
                        schema.flink_refusal(topic, table, writes, validates, enforced)
                    {
                        return Some(why);
                    }
                }
                Ok(None) => {}
                Err(err) => eprintln!(
                    "warning: table `{}`: the schema of {topic} was not checked: {err}",
                    table.name
                ),
            }
        }
        None
    })
}

async fn schema_of(
    admin: &str,
    topic: &str,
    endpoint: &Endpoint,
) -> Result<Option<flinkit::bridge::format::pulsar_schema::TopicSchema>, String> {
    topic_schema(admin, topic, &endpoint.settings, TIMEOUT)
        .await
        .map_err(|e| e.with_causes())
}
