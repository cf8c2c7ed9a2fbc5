//! A pipeline of many jobs, deployed, evolved and undeployed from Rust, its results checked on
//! Kafka at each step: the `examples/pipeline` folder (two sources, an intermediate join, two
//! facts), copied to a temporary folder so that its SQL can be changed between deploys.
//!
//! 1. Fixture rows go into the sources (`customers`, `orders`); `deploy` starts
//!    `enriched_orders`, `big_orders` and `revenue_by_country`, parents first; both facts are
//!    awaited until they hold exactly the expected rows.
//! 2. `deploy` again: every job is `unchanged`.
//! 3. `big_orders` (a filter, stateless) keeps orders of 50 or more instead of 100: it is
//!    `upgraded` from a savepoint and keeps its offsets, so only orders that arrive after the
//!    change are filtered the new way.
//! 4. `revenue_by_country` (a GROUP BY, stateful) counts revenue in cents: it is `restarted`
//!    with fresh state and reads its source from the start, so every total is recomputed.
//! 5. `status` shows each job running with its parents and children; `undeploy` stops them,
//!    children first.
//!
//! The target is the first argument (`rest` by default, or `gateway`); the stack's addresses
//! come from `FLINKIT_FLINK_URL`, `FLINKIT_GATEWAY_URL` and `FLINKIT_KAFKA` (defaults: the local
//! stack's). Topics and job names carry an environment new for each run. It prints each step and
//! exits non-zero at the first result that is not the expected one:
//!
//! ```sh
//! flinkit stack up --services kafka,flink,gateway
//! cargo run --example pipeline_deploy -- gateway
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flinkit::bridge::client::TableProducer;
use flinkit::bridge::table::TableSpec;
use flinkit::bridge::upsert::{Row, UpsertView};
use flinkit::pipeline::{self, Cluster, Outcome, Project};
use flinkit::vars::{Vars, substitute};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut cause = err.source();
            while let Some(inner) = cause {
                eprintln!("  caused by: {inner}");
                cause = inner.source();
            }
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

async fn run() -> Result<(), Error> {
    let target = std::env::args().nth(1).unwrap_or_else(|| "rest".into());
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let kafka = env("FLINKIT_KAFKA", "localhost:9092");
    let flink_url = env("FLINKIT_FLINK_URL", "http://localhost:8081");
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let name = format!("ex{millis}");
    let cluster = match target.as_str() {
        "gateway" => Cluster::gateway(
            env("FLINKIT_GATEWAY_URL", "http://localhost:8083"),
            flink_url,
        ),
        _ => Cluster::rest(flink_url),
    }
    .env(&name)
    .var("KAFKA", &kafka);
    let folder = tempfile::tempdir()?;
    copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/pipeline")
            .as_path(),
        folder.path(),
    )?;
    let dir = folder.path();
    let example = Run {
        cluster,
        vars: Vars::new([
            ("ENV".to_string(), name.clone()),
            ("KAFKA".to_string(), kafka),
        ]),
        dir: dir.to_path_buf(),
    };
    let result = example.lifecycle().await;
    if result.is_err() {
        // Nothing of a failed run is left running on the shared cluster.
        if let Ok(project) = Project::load(dir) {
            let _ = pipeline::undeploy(&project, &example.cluster, &[]).await;
        }
    }
    result
}

struct Run {
    cluster: Cluster,
    vars: Vars,
    dir: std::path::PathBuf,
}

impl Run {
    async fn lifecycle(&self) -> Result<(), Error> {
        // 1. Fixture rows, then the first deploy.
        let project = Project::load(&self.dir)?;
        let customers = self.producer(&project, "customers").await?;
        for (id, name, country) in [(1, "Ada", "FR"), (2, "Grace", "US"), (3, "Alan", "UK")] {
            customers
                .send_row(json!({"customer_id": id, "name": name, "country": country}))
                .await?;
        }
        let orders = self.producer(&project, "orders").await?;
        for (id, customer, amount) in [(1, 1, 120), (2, 2, 80), (3, 1, 40), (4, 3, 150), (5, 2, 70)]
        {
            orders
                .send_row(json!({"order_id": id, "customer_id": customer, "amount": amount}))
                .await?;
        }
        let deployed = pipeline::deploy(&project, &self.cluster, &[]).await?;
        expect_actions(
            "first deploy",
            &deployed,
            &[
                ("enriched_orders", "started"),
                ("big_orders", "started"),
                ("revenue_by_country", "started"),
            ],
        )?;
        self.await_rows(
            &project,
            "big_orders",
            json!([
                {"order_id": 1, "country": "FR", "amount": 120},
                {"order_id": 4, "country": "UK", "amount": 150},
            ]),
        )
        .await?;
        self.await_rows(
            &project,
            "revenue_by_country",
            json!([
                {"country": "FR", "orders": 2, "revenue": 160},
                {"country": "US", "orders": 2, "revenue": 150},
                {"country": "UK", "orders": 1, "revenue": 150},
            ]),
        )
        .await?;

        // 2. Nothing changed.
        let again = pipeline::deploy(&project, &self.cluster, &[]).await?;
        expect_actions(
            "second deploy",
            &again,
            &[
                ("enriched_orders", "unchanged"),
                ("big_orders", "unchanged"),
                ("revenue_by_country", "unchanged"),
            ],
        )?;

        // 3. A stateless change: upgraded from a savepoint, offsets kept.
        self.edit(
            "facts/big_orders/dml.big_orders.sql",
            "amount >= 100",
            "amount >= 50",
        )?;
        let project = Project::load(&self.dir)?;
        let upgraded = pipeline::deploy(&project, &self.cluster, &[]).await?;
        expect_actions(
            "a filter changed",
            &upgraded,
            &[
                ("enriched_orders", "unchanged"),
                ("big_orders", "upgraded"),
                ("revenue_by_country", "unchanged"),
            ],
        )?;
        for (id, customer, amount) in [(6, 3, 60), (7, 1, 30)] {
            orders
                .send_row(json!({"order_id": id, "customer_id": customer, "amount": amount}))
                .await?;
        }
        // Orders 2 (80) and 5 (70) were filtered by the old job: they stay out.
        self.await_rows(
            &project,
            "big_orders",
            json!([
                {"order_id": 1, "country": "FR", "amount": 120},
                {"order_id": 4, "country": "UK", "amount": 150},
                {"order_id": 6, "country": "UK", "amount": 60},
            ]),
        )
        .await?;
        self.await_rows(
            &project,
            "revenue_by_country",
            json!([
                {"country": "FR", "orders": 3, "revenue": 190},
                {"country": "US", "orders": 2, "revenue": 150},
                {"country": "UK", "orders": 2, "revenue": 210},
            ]),
        )
        .await?;

        // 4. A stateful change: restarted with fresh state, every total recomputed.
        self.edit(
            "facts/revenue_by_country/dml.revenue_by_country.sql",
            "SUM(CAST(amount AS BIGINT))",
            "SUM(CAST(amount AS BIGINT)) * 100",
        )?;
        let project = Project::load(&self.dir)?;
        let restarted = pipeline::deploy(&project, &self.cluster, &[]).await?;
        expect_actions(
            "an aggregation changed",
            &restarted,
            &[
                ("enriched_orders", "unchanged"),
                ("big_orders", "unchanged"),
                ("revenue_by_country", "restarted"),
            ],
        )?;
        self.await_rows(
            &project,
            "revenue_by_country",
            json!([
                {"country": "FR", "orders": 3, "revenue": 19000},
                {"country": "US", "orders": 2, "revenue": 15000},
                {"country": "UK", "orders": 2, "revenue": 21000},
            ]),
        )
        .await?;

        // 5. Status, then undeploy.
        let tables = pipeline::status(&project, &self.cluster, &[]).await?;
        for table in &tables {
            let running = table.state.map(|s| s.to_string());
            println!(
                "status: {:<20} {:<9} parents {:?} children {:?}",
                table.name,
                running.as_deref().unwrap_or("-"),
                table.parents,
                table.children
            );
        }
        let enriched = tables
            .iter()
            .find(|t| t.name == "enriched_orders")
            .ok_or("no enriched_orders in the status")?;
        if enriched.parents != ["orders", "customers"]
            || enriched.children != ["big_orders", "revenue_by_country"]
            || enriched.state.map(|s| s.to_string()).as_deref() != Some("RUNNING")
        {
            return Err(format!("unexpected status of enriched_orders: {enriched:?}").into());
        }
        let stopped = pipeline::undeploy(&project, &self.cluster, &[]).await?;
        expect_actions(
            "undeploy",
            &stopped,
            &[
                ("revenue_by_country", "stopped"),
                ("big_orders", "stopped"),
                ("enriched_orders", "stopped"),
            ],
        )?;
        println!("done: deployed, unchanged, upgraded, restarted and undeployed, rows checked");
        Ok(())
    }

    fn spec(&self, project: &Project, table: &str) -> Result<TableSpec, Error> {
        let values = substitute(project.script(), &self.vars);
        Ok(TableSpec::from_script(project.script(), &values, table)?)
    }

    async fn producer(&self, project: &Project, table: &str) -> Result<TableProducer, Error> {
        Ok(TableProducer::open(&self.spec(project, table)?, Duration::from_secs(10)).await?)
    }

    /// Waits (at most 120 s) until `table`'s topic holds exactly `rows`, latest row per key.
    async fn await_rows(&self, project: &Project, table: &str, rows: Value) -> Result<(), Error> {
        let expected: Vec<Row> = rows
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_object().cloned())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        let view = UpsertView::await_rows(&self.spec(project, table)?, &expected, deadline).await?;
        println!("{table}:\n{}", view.to_text());
        Ok(())
    }

    /// Replaces `from` with `to` in one file of the folder.
    fn edit(&self, file: &str, from: &str, to: &str) -> Result<(), Error> {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path)?;
        if !text.contains(from) {
            return Err(format!("{file} has no {from:?}").into());
        }
        std::fs::write(&path, text.replace(from, to))?;
        println!("changed {file}: {from} → {to}");
        Ok(())
    }
}

/// Fails unless `outcomes` are these tables with these actions, in this order.
fn expect_actions(
    step: &str,
    outcomes: &[Outcome],
    expected: &[(&str, &str)],
) -> Result<(), Error> {
    let got: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|o| (o.table.as_str(), o.action))
        .collect();
    println!("{step}: {got:?}");
    if got != expected {
        return Err(format!("{step}: expected {expected:?}, got {got:?}").into());
    }
    Ok(())
}

/// Copies the folder `from` (its files and subfolders) into `to`.
fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
