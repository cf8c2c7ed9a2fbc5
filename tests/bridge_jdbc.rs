//! `flinkit produce --table` and `consume --table` on `'connector' = 'jdbc'` tables against the
//! local stack's real PostgreSQL, a fresh database table per test, with `psql` — PostgreSQL's
//! own client — on the other side: it reads what flinkit wrote and flinkit reads what it
//! inserted. Also the bad input: a row the database refuses (exit 2, located, nothing
//! written), a table missing in the database and a URL that does not answer (exit 1, the
//! password never shown), TLS asked of a server without it; and the library on its own (the
//! async producer resolving each send at its commit, a consumer). Outside CI, without the
//! stack's PostgreSQL, the tests say so and stop.

mod common;

use std::process::{Command, Output};

use serde_json::{Value, json};

use common::{flinkit_stdin as flinkit, unique};

/// The stack's PostgreSQL as a JDBC URL (`FLINKIT_POSTGRES_URL`, else the default).
fn url() -> String {
    std::env::var("FLINKIT_POSTGRES_URL")
        .unwrap_or_else(|_| "jdbc:postgresql://localhost:5432/flinkit".into())
}

/// The host and port of [`url`].
fn host_port() -> (String, String) {
    let url = url();
    let rest = url.trim_start_matches("jdbc:postgresql://");
    let location = rest.split('/').next().unwrap_or_default();
    let (host, port) = location.split_once(':').unwrap_or((location, "5432"));
    (host.to_string(), port.to_string())
}

/// `psql -c SQL` as the stack's user: unaligned, tuples only, stopping at the first error.
fn psql(sql: &str) -> Output {
    let (host, port) = host_port();
    Command::new("psql")
        .args(["-h", &host, "-p", &port, "-U", "flinkit", "-d", "flinkit"])
        .args([
            "-X",
            "-A",
            "-t",
            "-F",
            "|",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs (apt-get install postgresql-client)")
}

fn psql_ok(sql: &str) -> String {
    let out = psql(sql);
    assert!(
        out.status.success(),
        "psql -c {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the stack's PostgreSQL answers; in CI it must.
fn up() -> bool {
    if psql("SELECT 1").status.success() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs these tests against the stack's PostgreSQL at {}",
        url()
    );
    eprintln!(
        "no PostgreSQL at {}; run `flinkit stack up --services postgres`",
        url()
    );
    false
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh database table (dropped again when the test ends).
struct Table(String);

impl Table {
    fn create(columns: &str) -> Self {
        let name = unique("t").replace('-', "_");
        psql_ok(&format!("CREATE TABLE {name} ({columns})"));
        Self(name)
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP TABLE IF EXISTS {}", self.0));
    }
}

/// The Flink DDL of a jdbc table `users` on `table` at `url`.
fn ddl(url: &str, table: &str, columns: &str) -> String {
    format!(
        "CREATE TABLE users ({columns}) WITH ('connector' = 'jdbc', 'url' = '{url}', \
         'table-name' = '{table}', 'username' = 'flinkit', 'password' = '${{PG_PASSWORD}}')"
    )
}

const PASSWORD: &str = "pw-never-shown";

fn run(sql: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut all = vec!["--table", "users", "--sql", sql, "--var"];
    let var = format!("PG_PASSWORD={PASSWORD}");
    all.push(&var);
    let (command, rest) = args.split_first().unwrap();
    let mut full = vec![*command];
    full.extend(all);
    full.extend(rest);
    flinkit(&full, stdin)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

const COLUMNS: &str = "uid VARCHAR(10) PRIMARY KEY, accountid INT NOT NULL, visits BIGINT, \
     balance NUMERIC(24, 4), last_seen TIMESTAMP(3), active BOOLEAN, born DATE, score DOUBLE \
     PRECISION, avatar BYTEA, updated TIMESTAMPTZ";

const FLINK_COLUMNS: &str = "uid VARCHAR(10), accountId INT NOT NULL, visits BIGINT, \
     balance DECIMAL(24, 4), last_seen TIMESTAMP(3), active BOOLEAN, born DATE, score DOUBLE, \
     avatar BYTES, updated TIMESTAMP_LTZ(3), PRIMARY KEY (uid) NOT ENFORCED";

#[test]
fn psql_reads_what_flinkit_wrote_and_flinkit_reads_what_psql_inserted() {
    if !up() {
        return;
    }
    let table = Table::create(COLUMNS);
    let sql = ddl(&url(), &table.0, FLINK_COLUMNS);
    // The decimal and the big integer as JSON text: every digit must arrive.
    let file = "{\"uid\":\"u1\",\"accountId\":100,\"visits\":9007199254740993,\
                \"balance\":12345678901234567890.1234,\"last_seen\":\"2024-05-01 10:00:00.123\",\
                \"active\":true,\"born\":\"1990-01-02\",\"score\":1.5,\"avatar\":\"AQID\",\
                \"updated\":\"2024-05-01 10:00:00Z\"}\n\
                {\"uid\":\"u2\",\"accountId\":101,\"visits\":null,\"balance\":null,\
                \"last_seen\":null,\"active\":false,\"born\":null,\"score\":null,\
                \"avatar\":null,\"updated\":null}\n";
    let produced = run(&sql, &["produce", "--file", "-"], Some(file));
    common::assert_success(&produced);

    // PostgreSQL's own client sees the rows, typed by the database.
    assert_eq!(
        psql_ok(&format!(
            "SELECT uid, accountid, visits, balance, last_seen, active, born, score, \
             encode(avatar, 'hex'), updated AT TIME ZONE 'UTC' FROM {} ORDER BY uid",
            table.0
        )),
        "u1|100|9007199254740993|12345678901234567890.1234|2024-05-01 10:00:00.123|t|1990-01-02|1.5|010203|2024-05-01 10:00:00\n\
         u2|101||||f||||"
    );

    // An update and a delete through flinkit, a row inserted by psql.
    let update = json!({"uid": "u2", "accountId": 102, "visits": 3}).to_string();
    common::assert_success(&run(
        &sql,
        &["produce", "--value", &update, "--key", "u2"],
        None,
    ));
    common::assert_success(&run(&sql, &["produce", "--tombstone", "u1"], None));
    psql_ok(&format!(
        "INSERT INTO {} (uid, accountid, balance, last_seen, updated) VALUES \
         ('u3', 103, 0.5, '2024-06-01 08:30:00', '2024-06-01 08:30:00.5+02')",
        table.0
    ));
    let consumed = run(&sql, &["consume", "--format", "json"], None);
    common::assert_success(&consumed);
    let values: Vec<Value> = lines(&consumed)
        .into_iter()
        .map(|l| l["value"].clone())
        .collect();
    // DECIMAL(24, 4) keeps its scale, as Flink's JSON writes it.
    let half: Value = serde_json::from_str("0.5000").unwrap();
    assert_eq!(
        values,
        [
            json!({"uid": "u2", "accountId": 102, "visits": 3, "balance": null,
                   "last_seen": null, "active": null, "born": null, "score": null,
                   "avatar": null, "updated": null}),
            json!({"uid": "u3", "accountId": 103, "visits": null, "balance": half,
                   "last_seen": "2024-06-01 08:30:00", "active": null, "born": null,
                   "score": null, "avatar": null, "updated": "2024-06-01 06:30:00.5Z"}),
        ]
    );
    let view = run(&sql, &["consume", "--upsert", "--format", "json"], None);
    common::assert_success(&view);
    let uids: Vec<Value> = common::json(&view)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    assert_eq!(uids, [json!("u2"), json!("u3")]);
}

#[test]
fn a_row_the_database_refuses_rolls_the_whole_file_back() {
    if !up() {
        return;
    }
    let table = Table::create(COLUMNS);
    let sql = ddl(&url(), &table.0, FLINK_COLUMNS);
    // Line 2's uid fits Flink's STRING check of the file but not the database's VARCHAR(10).
    let file = "{\"uid\":\"ok\",\"accountId\":1}\n{\"uid\":\"far-too-long\",\"accountId\":2}\n";
    let out = run(&sql, &["produce", "--file", "-"], Some(file));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("character varying(10)"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(psql_ok(&format!("SELECT count(*) FROM {}", table.0)), "0");

    // Rows go out 256 at a time: a refusal after the first batch still takes it back.
    let mut file: String = (1..=300)
        .map(|i| format!("{{\"uid\":\"u{i}\",\"accountId\":{i}}}\n"))
        .collect();
    file.push_str("{\"uid\":\"far-too-long\",\"accountId\":301}\n");
    file.push_str("{\"uid\":\"u302\",\"accountId\":302}\n");
    let out = run(&sql, &["produce", "--file", "-"], Some(&file));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 301"), "{}", stderr(&out));
    assert_eq!(psql_ok(&format!("SELECT count(*) FROM {}", table.0)), "0");

    // A record that does not fit the table's own types is refused before anything is sent.
    let out = run(
        &sql,
        &[
            "produce",
            "--value",
            "{\"uid\":\"x\",\"accountId\":\"many\"}",
            "--key",
            "x",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(psql_ok(&format!("SELECT count(*) FROM {}", table.0)), "0");
}

#[test]
fn a_missing_table_and_a_silent_database_fail_at_runtime_without_the_password() {
    if !up() {
        return;
    }
    let missing = ddl(&url(), &unique("missing").replace('-', "_"), FLINK_COLUMNS);
    for args in [
        &[
            "produce",
            "--value",
            "{\"uid\":\"a\",\"accountId\":1}",
            "--key",
            "a",
        ][..],
        &["consume"][..],
    ] {
        let out = run(&missing, args, None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("does not exist in the database"),
            "{}",
            stderr(&out)
        );
    }
    // Nothing listens on port 1; the URL's own password is masked too.
    let silent = ddl(
        "jdbc:postgresql://localhost:1/flinkit?password=${PG_PASSWORD}",
        "users",
        FLINK_COLUMNS,
    );
    let out = run(
        &silent,
        &[
            "produce",
            "--value",
            "{\"uid\":\"a\",\"accountId\":1}",
            "--key",
            "a",
            "--connect-timeout",
            "3s",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("jdbc:postgresql://localhost:1/flinkit?password=***"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");

    // TLS asked of a server without it (the stack's): refused, not sent in the clear.
    let tls = ddl(
        &format!("{}?sslmode=require", url()),
        "users",
        FLINK_COLUMNS,
    );
    let out = run(&tls, &["consume"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("TLS"), "{}", stderr(&out));
}

#[test]
fn a_table_without_a_primary_key_is_appended_to() {
    if !up() {
        return;
    }
    let table = Table::create("name TEXT, n INT");
    let sql = ddl(&url(), &table.0, "name STRING, n INT");
    let file = "{\"name\":\"a\",\"n\":1}\n{\"name\":\"a\",\"n\":1}\n";
    common::assert_success(&run(&sql, &["produce", "--file", "-"], Some(file)));
    assert_eq!(psql_ok(&format!("SELECT count(*) FROM {}", table.0)), "2");
    let view = run(&sql, &["consume", "--upsert", "--format", "json"], None);
    common::assert_success(&view);
    assert_eq!(common::json(&view)["rows"].as_array().unwrap().len(), 2);
    let out = run(&sql, &["produce", "--tombstone", "a"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a delete needs a key: {}",
        stderr(&out)
    );
}

/// The library without the CLI: a table's spec from its SQL, the async producer (each awaited
/// send resolves once its row is committed, so `psql` sees it at once), and a consumer.
#[test]
fn the_library_commits_each_awaited_row_and_reads_them_back() {
    use flinkit::bridge::client::TableProducer;
    use flinkit::bridge::table::TableSpec;
    use flinkit::bridge::{ConsumeOptions, Next};
    use flinkit::sql::Script;
    use flinkit::vars::{Vars, substitute};
    use std::time::Duration;

    if !up() {
        return;
    }
    let table = Table::create("uid TEXT PRIMARY KEY, n INT");
    let sql = ddl(
        &url(),
        &table.0,
        "uid STRING, n INT, PRIMARY KEY (uid) NOT ENFORCED",
    );
    let script = Script::parse_str(&sql).unwrap();
    let values = substitute(
        &script,
        &Vars::new([("PG_PASSWORD".to_string(), PASSWORD.to_string())]),
    );
    let spec = TableSpec::from_script(&script, &values, "users").unwrap();
    let count = format!("SELECT count(*) FROM {}", table.0);
    common::block_on(async {
        let producer = TableProducer::open(&spec, Duration::from_secs(10))
            .await
            .unwrap();
        for i in 1..=3 {
            let record = producer
                .encode_row(json!({"uid": format!("u{i}"), "n": i}))
                .unwrap();
            producer.producer().send(record).await.unwrap();
            assert_eq!(psql_ok(&count), i.to_string(), "row {i} is committed");
        }
    });
    let mut consumer = flinkit::bridge::consumer(
        &spec.endpoint,
        &spec.topics,
        Some(&spec),
        &ConsumeOptions::default(),
        Duration::from_secs(10),
    )
    .unwrap();
    let mut rows = Vec::new();
    while let Next::Record(record) = consumer.next(Duration::from_secs(10)).unwrap() {
        let row = spec
            .decode_row(record.key.as_deref(), record.value.as_deref().unwrap())
            .unwrap();
        rows.push(Value::Object(row));
    }
    assert_eq!(
        rows,
        [
            json!({"uid": "u1", "n": 1}),
            json!({"uid": "u2", "n": 2}),
            json!({"uid": "u3", "n": 3})
        ]
    );
}
