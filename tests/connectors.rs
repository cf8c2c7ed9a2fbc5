//! Connectors on demand: a `jdbc` table checked offline like a bundled connector's (its jars
//! fetched from Maven Central and described by the runner), bad `--jar`s refused before anything
//! starts, and — against the running stack (Flink, SQL Gateway, Kafka, PostgreSQL) — the
//! PostgreSQL tutorials, a jar the user names on every target, and a database that does not
//! answer or lacks the sink's table. PostgreSQL is read and written with `psql`, a client this
//! project did not write.
//!
//! Fetching and describing need Java and Maven, as every local run does; the stack tests say
//! so and stop outside CI when the stack is down.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod common;

use common::{assert_success, block_on, flink_url, flinkit, json, root, unique};
use flinkit::flink::rest::RestClient;
use flinkit::stack::{Service, Stack};
use serde_json::Value;

/// One job at a time on the shared TaskManager.
static SLOTS: Mutex<()> = Mutex::new(());

fn take_turn() -> MutexGuard<'static, ()> {
    SLOTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const JDBC_TABLE: &str =
    "CREATE TABLE counts (user_id STRING, n BIGINT, PRIMARY KEY (user_id) NOT ENFORCED) WITH (
  'connector' = 'jdbc',
  'url' = '{url}',
  'table-name' = '{table}',
  'username' = 'flinkit',
  'password' = 'not-checked',
  'sink.buffer-flush.max-rows' = '1'
);";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_misspelled_jdbc_option_is_caught_offline_with_the_right_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let sql = JDBC_TABLE
        .replace("{url}", "jdbc:postgresql://localhost:5432/flinkit")
        .replace("{table}", "counts")
        .replace(
            "'sink.buffer-flush.max-rows'",
            "'sink.buffer-flush.max-rowz'",
        )
        .replace("'username'", "'usernme'");
    let file = write(dir.path(), "jdbc.sql", &sql);
    let out = flinkit(&["validate", "--format", "json", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let found: Vec<(&str, &str, &str)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap(),
                d["option"].as_str().unwrap_or_default(),
                d["suggestion"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "unknown-option",
            "sink.buffer-flush.max-rowz",
            "'sink.buffer-flush.max-rows'"
        )),
        "{v}"
    );
    assert!(
        found.contains(&("unknown-option", "usernme", "'username'")),
        "{v}"
    );
}

#[test]
fn a_jdbc_enum_and_required_key_are_checked_like_kafkas() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "CREATE TABLE t (a INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://localhost/x',
      'sink.buffer-flush.interval' = 'often');";
    let file = write(dir.path(), "t.sql", sql);
    let out = flinkit(&["validate", "--format", "json", "-f", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"missing-option"), "table-name: {v}");
    assert!(codes.contains(&"bad-value"), "a duration: {v}");
}

#[test]
fn an_identifier_nothing_provides_is_an_error_naming_it_and_how_to_add_its_jar() {
    let out = flinkit(&[
        "validate",
        "--format",
        "json",
        "--sql",
        "CREATE TABLE t (a INT) WITH ('connector' = 'acme-queue', 'acme.host' = 'h')",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    let d = &v["diagnostics"][0];
    assert_eq!(d["severity"], "error", "{v}");
    assert_eq!(d["code"], "unknown-connector");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains("'acme-queue'"), "{message}");
    assert!(message.contains("options went unchecked"), "{message}");
    assert!(d["suggestion"].as_str().unwrap().contains("--jar"), "{v}");
}

#[test]
fn a_script_that_needs_nothing_extra_fetches_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let out = common::flinkit_command()
        .env("FLINKIT_CACHE_DIR", cache.path())
        .args([
            "validate",
            "--sql",
            "CREATE TABLE t (a INT) WITH ('connector' = 'blackhole')",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        0,
        "nothing is fetched, built or described"
    );
}

/// A jar whose only content is `entries`.
fn jar(dir: &Path, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
    let path = dir.join(name);
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (entry, bytes) in entries {
        writer
            .start_file(*entry, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
    path
}

fn refused(jar: &str) -> String {
    let out = flinkit(&[
        "validate",
        "--jar",
        jar,
        "--sql",
        "CREATE TABLE t (a INT) WITH ('connector' = 'blackhole')",
    ]);
    assert_eq!(out.status.code(), Some(2), "--jar {jar}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "one clear line: {err}"
    );
    err
}

#[test]
fn bad_jars_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jar");
    assert!(refused(missing.to_str().unwrap()).contains("no such file"));
    let text = write(dir.path(), "notes.jar", "not a zip");
    assert!(refused(text.to_str().unwrap()).contains("not a jar"));
    let err = refused("org.apache.flink:flink-connector-jdbc:3.1.2-1.17");
    assert!(err.contains("built for Flink 1.17"), "{err}");
    let old = jar(
        dir.path(),
        "flink-connector-jdbc-3.1.2-1.17.jar",
        &[(
            "META-INF/maven/org.apache.flink/flink-connector-jdbc/pom.properties",
            b"version=3.1.2-1.17\ngroupId=org.apache.flink\nartifactId=flink-connector-jdbc\n",
        )],
    );
    let err = refused(old.to_str().unwrap());
    assert!(err.contains("built for Flink 1.17"), "{err}");
    let err = refused("dev.flinkit.nothing:no-such-connector:0.0.1");
    assert!(err.contains("Maven Central has no such artifact"), "{err}");
    let out = flinkit(&["validate", "--jar", "a:b", "--sql", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn two_copies_of_a_class_are_explained_not_a_class_cast_exception() {
    let dir = tempfile::tempdir().unwrap();
    let clients = |version: &str| {
        jar(
            dir.path(),
            &format!("kafka-clients-{version}.jar"),
            &[(
                "org/apache/kafka/clients/producer/KafkaProducer.class",
                format!("built as {version}").as_bytes(),
            )],
        )
    };
    let (old, new) = (clients("3.4.0"), clients("3.9.0"));
    let out = flinkit(&[
        "validate",
        "--jar",
        old.to_str().unwrap(),
        "--jar",
        new.to_str().unwrap(),
        "--sql",
        "CREATE TABLE t (a INT) WITH ('connector' = 'blackhole')",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("org.apache.kafka.clients.producer"), "{err}");
    assert!(err.contains("kafka-clients-3.4.0.jar"), "{err}");
    assert!(err.contains("kafka-clients-3.9.0.jar"), "{err}");
    assert!(err.contains("keep only one"), "{err}");
    assert!(!err.contains("ClassCastException:"), "{err}");
}

/// The stack's endpoint of `service`, when it is healthy; in CI it must be.
fn endpoint(service: Service) -> Option<String> {
    let status = Stack::from_env(None).unwrap().status(&[service]).remove(0);
    if status.healthy {
        return Some(status.endpoint);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these against the stack, and {service} is down: {:?}",
        status.reason
    );
    eprintln!("skipped: {service} is not running; `flinkit stack up` to run these");
    None
}

/// The stack's Flink, Gateway and PostgreSQL (and Kafka with `kafka`), as `(kafka, jdbc url)`.
fn stack(kafka: bool) -> Option<(String, String)> {
    endpoint(Service::Flink)?;
    endpoint(Service::Gateway)?;
    let postgres = endpoint(Service::Postgres)?;
    let kafka = if kafka {
        endpoint(Service::Kafka)?
    } else {
        String::new()
    };
    Some((kafka, postgres))
}

/// `psql` on the database of `jdbc_url` (`jdbc:postgresql://host:port/db`): rows as text.
fn psql(jdbc_url: &str, sql: &str) -> String {
    let rest = jdbc_url.trim_start_matches("jdbc:postgresql://");
    let (address, db) = rest.split_once('/').unwrap();
    let (host, port) = address.split_once(':').unwrap();
    let out = Command::new("psql")
        .args(["-h", host, "-p", port, "-U", "flinkit", "-d", db])
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (apt-get install postgresql-client)");
    assert!(out.status.success(), "psql {sql}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Polls `query` until it prints `want`, for up to 90 s.
fn await_rows(jdbc_url: &str, query: &str, want: &str) {
    let started = Instant::now();
    loop {
        let got = psql(jdbc_url, query);
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{query}: still {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Cancels a cluster job when the test ends, passing or failing.
struct JobGuard(String);

impl Drop for JobGuard {
    fn drop(&mut self) {
        let client = RestClient::new(&flink_url(), Duration::from_secs(30));
        if block_on(client.cancel(&self.0)).is_ok() {
            let ended = block_on(client.wait_ended(&self.0, Duration::from_secs(30)));
            eprintln!("job {}: {ended:?}", self.0);
        }
    }
}

fn launch(args: &[&str]) -> Value {
    let mut all = vec!["launch", "--format", "json"];
    all.extend_from_slice(args);
    let out = flinkit(&all);
    assert_success(&out);
    json(&out)
}

#[test]
fn tutorial_user_count_with_a_postgresql_sink_over_rest() {
    let Some((kafka, postgres)) = stack(true) else {
        return;
    };
    let _turn = take_turn();
    let suffix = unique("uc").replace('-', "_");
    let table = format!("user_count_by_account_{suffix}");
    let sql = std::fs::read_to_string(root().join("sql/user-count/postgres.sql"))
        .unwrap()
        .replace("localhost:9092", &kafka)
        .replace("jdbc:postgresql://localhost:5432/flinkit", &postgres)
        .replace(
            "'user-count.users'",
            &format!("'user-count.users.{suffix}'"),
        )
        .replace(
            "'table-name' = 'user_count_by_account'",
            &format!("'table-name' = '{table}'"),
        );
    let schema = std::fs::read_to_string(root().join("sql/user-count/postgres-schema.sql"))
        .unwrap()
        .replace("user_count_by_account", &table);
    psql(&postgres, &schema);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "user-count-postgres.sql", &sql);
    let file = file.to_str().unwrap();
    let users = root().join("sql/user-count/users.jsonl");
    let sent = flinkit(&[
        "produce",
        "--table",
        "users",
        "-f",
        file,
        "--file",
        users.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_success(&sent);
    let launched = launch(&["--target", "rest", "-f", file]);
    let _job = JobGuard(launched["job_id"].as_str().unwrap().to_string());
    assert_eq!(launched["state"], "RUNNING", "{launched}");
    await_rows(
        &postgres,
        &format!("SELECT accountid, usercount FROM {table} ORDER BY 1"),
        "100|2\n101|2",
    );
    // flinkit's own bridge reads the same table, as Flink's JSON rows.
    let view = flinkit(&[
        "consume",
        "--table",
        "user_count_by_account",
        "-f",
        file,
        "--upsert",
        "--format",
        "json",
    ]);
    assert_success(&view);
    let mut rows: Vec<(String, i64)> = json(&view)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["accountId"].as_str().unwrap().to_string(),
                r["userCount"].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows, [("100".into(), 2), ("101".into(), 2)]);
}

#[test]
fn tutorial_jdbc_catalog_over_rest() {
    tutorial_jdbc_catalog("rest");
}

/// The stack's SQL Gateway has the PostgreSQL driver on its own classpath: `DriverManager` does
/// not register one that arrives with `ADD JAR` ("No suitable driver").
#[test]
fn tutorial_jdbc_catalog_through_the_gateway() {
    tutorial_jdbc_catalog("gateway");
}

/// The jdbc-catalog tutorial on `target`: its totals land in PostgreSQL.
fn tutorial_jdbc_catalog(target: &str) {
    let Some((_, postgres)) = stack(false) else {
        return;
    };
    let _turn = take_turn();
    let suffix = unique("cat").replace('-', "_");
    let (orders, totals) = (format!("orders_{suffix}"), format!("totals_{suffix}"));
    let schema = std::fs::read_to_string(root().join("sql/jdbc-catalog/schema.sql"))
        .unwrap()
        .replace("orders (", &format!("{orders} ("))
        .replace("INTO orders", &format!("INTO {orders}"))
        .replace("account_totals", &totals);
    psql(&postgres, &schema);
    let base = postgres.rsplit_once('/').unwrap().0;
    let sql = std::fs::read_to_string(root().join("sql/jdbc-catalog/totals.sql"))
        .unwrap()
        .replace("jdbc:postgresql://localhost:5432", base)
        .replace("pg.flinkit.orders", &format!("pg.flinkit.{orders}"))
        .replace("pg.flinkit.account_totals", &format!("pg.flinkit.{totals}"));
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "totals.sql", &sql);
    let launched = launch(&["--target", target, "-f", file.to_str().unwrap()]);
    let _job = JobGuard(launched["job_id"].as_str().unwrap().to_string());
    await_rows(
        &postgres,
        &format!("SELECT account, orders, total FROM {totals} ORDER BY 1"),
        "alice|2|14.75\nbob|2|4.00\ncarol|1|7.00",
    );
}

/// The JDBC jars flinkit fetched for a `jdbc` table, copied to `dir` as a user's own files.
fn users_jdbc_jars(dir: &Path) -> Vec<PathBuf> {
    let out = flinkit(&[
        "validate",
        "--sql",
        "CREATE TABLE t (a INT) WITH ('connector' = 'jdbc', 'url' = 'jdbc:postgresql://h/d', 'table-name' = 't')",
    ]);
    assert_success(&out);
    let cache = flinkit::provision::Cache::from_env().unwrap();
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(cache.root()).unwrap().flatten() {
        let lib = entry.path().join("lib");
        if !entry.file_name().to_string_lossy().starts_with("jars-") || !lib.is_dir() {
            continue;
        }
        let jars: Vec<PathBuf> = std::fs::read_dir(&lib)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        if jars
            .iter()
            .any(|j| j.to_string_lossy().contains("flink-connector-jdbc-core"))
        {
            for jar in jars {
                let to = dir.join(jar.file_name().unwrap());
                std::fs::copy(&jar, &to).unwrap();
                copied.push(to);
            }
            return copied;
        }
    }
    panic!("no fetched JDBC jars in {}", cache.root().display());
}

#[test]
fn a_jar_the_user_names_runs_on_every_target() {
    let Some((_, postgres)) = stack(false) else {
        return;
    };
    let _turn = take_turn();
    let dir = tempfile::tempdir().unwrap();
    let jars = users_jdbc_jars(dir.path());
    for target in ["local", "rest", "gateway"] {
        let table = format!("counts_{}", unique(target).replace('-', "_"));
        psql(
            &postgres,
            &format!("CREATE TABLE {table} (user_id TEXT PRIMARY KEY, n BIGINT)"),
        );
        let sql = format!(
            "CREATE TABLE src (user_id STRING, n BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5', 'fields.user_id.length' = '8');\n{}\nINSERT INTO counts SELECT user_id, n FROM src;",
            JDBC_TABLE
                .replace("{url}", &postgres)
                .replace("{table}", &table)
        );
        let file = write(dir.path(), &format!("{target}.sql"), &sql);
        let mut args = vec!["--target", target, "-f", file.to_str().unwrap()];
        for jar in &jars {
            args.extend(["--jar", jar.to_str().unwrap()]);
        }
        let launched = launch(&args);
        let _job =
            (target != "local").then(|| JobGuard(launched["job_id"].as_str().unwrap().to_string()));
        await_rows(&postgres, &format!("SELECT count(*) FROM {table}"), "5");
    }
}

#[test]
fn a_database_that_does_not_answer_or_lacks_the_table_is_refused_before_submitting() {
    let Some((_, postgres)) = stack(false) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = |url: &str, table: &str| {
        format!(
            "CREATE TABLE src (user_id STRING, n BIGINT) WITH ('connector' = 'datagen');\n{}\nINSERT INTO counts SELECT user_id, n FROM src;",
            JDBC_TABLE.replace("{url}", url).replace("{table}", table)
        )
    };
    let silent = write(
        dir.path(),
        "silent.sql",
        &script("jdbc:postgresql://localhost:1/flinkit", "t"),
    );
    let missing = write(
        dir.path(),
        "missing.sql",
        &script(
            &postgres,
            &format!("no_such_{}", unique("t").replace('-', "_")),
        ),
    );
    let client = RestClient::new(&flink_url(), Duration::from_secs(30));
    let before = block_on(client.jobs()).unwrap().len();
    for (file, code, says) in [
        (&silent, 1, "does not answer"),
        (&missing, 2, "which is not in the database"),
    ] {
        let out = flinkit(&["launch", "--target", "rest", "-f", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let err = stderr(&out);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(says), "{err}");
        assert!(errors[0].contains("nothing was started"), "{err}");
    }
    assert_eq!(
        block_on(client.jobs()).unwrap().len(),
        before,
        "no job was submitted"
    );
}
