//! The `flinkit` binary as a user meets it: exit codes, located errors rendered with a caret,
//! the order of mixed inputs, stdin, formats, completions, and the seed tutorials' SQL.

mod common;

use std::process::Stdio;

use common::{flinkit_stdin as flinkit, json};

#[test]
fn inputs_keep_command_line_order_and_each_is_split_on_its_own() {
    let out = flinkit(
        &[
            "split",
            "--format",
            "json",
            "CREATE TABLE a (x INT) WITH ('connector' = 'datagen')",
            "--sql",
            "INSERT INTO b SELECT x FROM a; INSERT INTO c SELECT x FROM a",
            "-",
            "-f",
            "sql/user-count/kafka.sql",
        ],
        Some("SELECT 1"),
    );
    assert!(out.status.success());
    let v = json(&out);
    let rows: Vec<(String, String)> = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("create_table", "<argument 1>"),
        ("insert", "<argument 2>"),
        ("insert", "<argument 2>"),
        ("select", "<stdin>"),
        ("create_table", "sql/user-count/kafka.sql"),
        ("create_table", "sql/user-count/kafka.sql"),
        ("insert", "sql/user-count/kafka.sql"),
    ];
    assert_eq!(
        rows,
        want.map(|(k, s)| (k.to_string(), s.to_string())).to_vec()
    );
    assert_eq!(v["statements"][2]["column"], 32);
}

#[test]
fn an_argument_without_semicolon_is_one_statement_even_across_lines() {
    let out = flinkit(
        &[
            "split",
            "--format",
            "json",
            "CREATE TABLE t\n(x INT)\nWITH ('connector' = 'datagen')",
        ],
        None,
    );
    let v = json(&out);
    assert_eq!(v["statements"].as_array().unwrap().len(), 1);
    assert_eq!(v["statements"][0]["name"], "t");
}

#[test]
fn lexing_errors_show_the_line_and_a_caret_and_exit_2() {
    let out = flinkit(
        &[
            "split",
            "--color",
            "never",
            "-f",
            "../shared/sql-cases/10-unterminated-string.sql",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: unterminated string literal"), "{err}");
    assert!(
        err.contains("10-unterminated-string.sql:2:22"),
        "names the file, line and column: {err}"
    );
    assert!(
        err.contains("2 │ INSERT INTO t SELECT 'never closed FROM t;"),
        "{err}"
    );
    assert!(err.contains("                     ^ opened here"), "{err}");
    assert!(err.contains("help: close the string"), "{err}");
    assert!(!err.contains("\u{1b}["), "--color never means no escapes");
}

#[test]
fn json_errors_are_the_contract_object() {
    let out = flinkit(&["split", "--format", "json", "SELECT /* open"], None);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["error"]["line"], 1);
    assert_eq!(v["error"]["column"], 8);
    assert_eq!(v["error"]["source"], "<argument 1>");
}

#[test]
fn missing_files_and_wrong_formats_are_invalid_input() {
    let out = flinkit(&["split", "-f", "no/such/file.sql"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read no/such/file.sql"), "{err}");
    let out = flinkit(&["split", "--format", "dot", "SELECT 1"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format text|json"));
    let out = flinkit(&["split", "--no-such-flag"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn graph_renders_every_format() {
    let file = "sql/favorite-color-cheese/kafka.sql";
    let out = flinkit(&["graph", "--format", "json", "-f", file], None);
    let v = json(&out);
    assert_eq!(v["order"][3], "user_favorite_color_and_cheese");
    assert_eq!(v["edges"].as_array().unwrap().len(), 3);
    let text = flinkit(&["graph", "-f", file], None);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("users (upsert-kafka, source)\n└─ user_favorite_color_and_cheese"));
    let dot = flinkit(&["graph", "--format", "dot", "-f", file], None);
    assert!(String::from_utf8_lossy(&dot.stdout).starts_with("digraph flinkit {"));
    let mermaid = flinkit(&["graph", "--format", "mermaid", "-f", file], None);
    assert!(String::from_utf8_lossy(&mermaid.stdout).starts_with("flowchart LR\n"));
}

#[test]
fn graph_of_a_folder_reads_every_script_in_path_order() {
    let out = flinkit(&["split", "--format", "json", "-f", "sql"], None);
    let v = json(&out);
    let sources: Vec<&str> = v["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(sources, sorted);
    let mut files: Vec<&str> = sources.clone();
    files.dedup();
    let on_disk = walk(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sql"
    )));
    assert_eq!(
        files.len(),
        on_disk,
        "every .sql file below sql/ is read once"
    );
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "sql"))
            }
        })
        .sum()
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = flinkit(&["completions", shell], None);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("split") && script.contains("graph"),
            "{shell}"
        );
    }
}

#[test]
fn help_shows_examples_for_every_command() {
    for command in ["split", "graph", "completions", "local"] {
        let out = flinkit(&[command, "--help"], None);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{command}: {help}");
    }
}

#[test]
fn a_closed_stdout_pipe_is_not_an_error() {
    let mut child = common::flinkit_command()
        .args(["split", "-f", "sql"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    common::assert_success(&out);
}

#[test]
fn a_closed_stderr_is_not_a_panic() {
    // `flinkit … 2>&1 | head -1`: what is written to stderr after the reader left is lost, and
    // the command ends with its own exit code (a panic would be 101).
    let dir = tempfile::tempdir().unwrap();
    let warned = dir.path().join("warned.sql");
    std::fs::write(
        &warned,
        "CREATE TABLE s (x INT) WITH ('connector' = 'blackhole');\nINSERT INTO s SELECT x FROM nowhere;\n",
    )
    .unwrap();
    let warned = warned.to_str().unwrap();
    for (args, code) in [
        (vec!["split", "SELECT 'unterminated"], 2),
        (vec!["validate", "-f", warned], 0),
        (vec!["launch", "--dry-run", "SELECT 'unterminated"], 2),
        (vec!["jobs", "status", "nothex"], 2),
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = common::flinkit_command()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(writer)
            .status()
            .unwrap();
        assert_eq!(out.code(), Some(code), "{args:?}");
    }
}

#[test]
fn fix_write_repairs_the_seed_tutorial_sql() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.sql");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/sql-cases/01-seed-user-count.sql"
        ),
        &seed,
    )
    .unwrap();
    let seed = seed.to_str().unwrap();
    let before = flinkit(&["validate", "--format", "json", "-f", seed], None);
    assert_eq!(before.status.code(), Some(2));
    let codes: Vec<String> = json(&before)["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        codes.iter().all(|c| c.starts_with("legacy-pulsar")),
        "{codes:?}"
    );
    let diff = flinkit(&["validate", "--fix", "-f", seed], None);
    let diff = String::from_utf8_lossy(&diff.stdout);
    assert!(
        diff.contains("-  'topic' = 'persistent://public/default/users',"),
        "{diff}"
    );
    assert!(
        diff.contains("+  'topics' = 'persistent://public/default/users',"),
        "{diff}"
    );
    assert!(
        diff.contains("+  eventTime TIMESTAMP(3) METADATA FROM 'event_time',"),
        "{diff}"
    );
    let written = flinkit(&["validate", "--fix", "--write", "-f", seed], None);
    assert!(written.status.success());
    let after = flinkit(&["validate", "--format", "json", "-f", seed], None);
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stdout)
    );
    assert_eq!(json(&after)["ok"], true);
    let text = std::fs::read_to_string(seed).unwrap();
    assert!(
        text.contains("'service-url' = 'pulsar://localhost:6650'\n);"),
        "comma removed with admin-url: {text}"
    );
    assert!(text.starts_with("CREATE TABLE users ("), "formatting kept");
}

#[test]
fn missing_java_is_a_clear_error_with_the_fix() {
    let out = common::flinkit_command()
        .args(["setup"])
        .env("PATH", "/nonexistent")
        .env_remove("JAVA_HOME")
        .env(
            "FLINKIT_CACHE_DIR",
            std::env::temp_dir().join("flinkit-no-java"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Java 17 or newer is needed"), "{err}");
    assert!(
        err.contains("help: install Java 17: `apt-get install openjdk-17-jdk-headless`"),
        "{err}"
    );
}

#[test]
fn bad_flag_values_are_refused_when_flags_are_parsed() {
    let ddl = "CREATE TABLE t (x INT) WITH ('connector' = 'datagen')";
    for args in [
        vec!["split", "--format", "dot", ddl],
        vec!["validate", "--format", "mermaid", ddl],
        vec!["produce", "kafka", "t", "--value", "1", "--format", "dot"],
        vec!["consume", "kafka", "t", "--format", "mermaid"],
        vec!["produce", "kafka", "t", "--value", "1", "--endpoint", ""],
        vec!["consume", "pulsar", "t", "--connect-timeout", "0s"],
        vec!["consume", "kafka", "t", "--timeout", "soon"],
        vec!["consume", "kafka", "t", "--count", "0"],
        vec!["launch", "--parallelism", "0", ddl],
        vec!["launch", "--heap", "lots", ddl],
        vec!["launch", "--timeout", "0s", ddl],
        vec!["launch", "--flink-url", "not a url", ddl],
        vec!["launch", "--gateway-url", "localhost:8083", ddl],
        vec!["jobs", "list", "--flink-url", ""],
        vec!["jobs", "stop", "abc", "--savepoint-dir", ""],
        vec!["launch", "--job-name", " ", ddl],
        vec!["consume", "kafka", "t", "--group", ""],
        vec!["stack", "up", "--timeout", "0s"],
        vec!["demo", "--timeout", "0s"],
        vec!["local", "up", "--slots", "0"],
        vec!["local", "up", "--idle-timeout", "0s"],
        vec!["local", "up", "--heap", "lots"],
        vec!["local", "up", "--format", "dot"],
        vec![
            "produce",
            "--table",
            "t",
            "--sql",
            ddl,
            "--generate",
            "5",
            "--rate",
            "fast",
        ],
        vec![
            "produce",
            "--table",
            "t",
            "--sql",
            ddl,
            "--generate",
            "5",
            "--tombstone-ratio",
            "2",
        ],
        vec!["produce", "--table", "t", "--sql", ddl, "--generate", "0"],
    ] {
        let out = flinkit(&args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid value") || err.contains("prints --format"),
            "{args:?} is refused by the flag parser: {err}"
        );
    }
}

#[test]
fn a_missing_file_is_invalid_input_everywhere() {
    for args in [
        vec!["split", "-f", "/nonexistent/job.sql"],
        vec!["validate", "-f", "/nonexistent/job.sql"],
        vec!["produce", "kafka", "t", "--file", "/nonexistent/rows.jsonl"],
        vec![
            "produce",
            "--table",
            "t",
            "-f",
            "/nonexistent/t.sql",
            "--value",
            "1",
        ],
        vec!["stack", "status", "--config", "/nonexistent/flinkit.toml"],
    ] {
        let out = flinkit(&args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sql_and_records_both_on_stdin_are_refused() {
    let out = flinkit(
        &["produce", "--table", "t", "-f", "-", "--file", "-"],
        Some("CREATE TABLE t (x INT) WITH ('connector' = 'kafka')\n{\"x\": 1}\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard input"), "{err}");
}

#[test]
fn a_file_name_given_without_dash_f_is_not_sql() {
    let out = flinkit(&["validate", "job.sql"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean `-f job.sql`?"), "{stderr}");
    let out = flinkit(
        &["split", "--format", "json", "-"],
        Some("SELECT 1;\nfoo bar;"),
    );
    assert_eq!(out.status.code(), Some(2));
    let error = &json(&out)["error"];
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(1))
    );
}

#[test]
fn endless_inputs_are_refused_not_read_until_memory_runs_out() {
    let out = flinkit(&["split", "-f", "/dev/zero"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("larger than 256 MiB"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let ddl = dir.path().join("t.sql");
    std::fs::write(
        &ddl,
        "CREATE TABLE t (id INT) WITH ('connector' = 'kafka', 'topic' = 't', \
         'properties.bootstrap.servers' = 'localhost:1', 'format' = 'json');",
    )
    .unwrap();
    let ddl = ddl.to_str().unwrap();
    let out = flinkit(
        &["produce", "--table", "t", "-f", ddl, "--file", "/dev/zero"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1: the line is longer than 64 MiB"),
        "{stderr}"
    );
}

#[test]
fn deep_and_long_scripts_do_not_overflow_the_stack() {
    let chain: String = (1..20_000)
        .map(|i| format!("INSERT INTO t{i} SELECT * FROM t{};\n", i - 1))
        .collect();
    let out = flinkit(&["graph", "-"], Some(&chain));
    common::assert_success(&out);
    let from = (0..100_000).map(|i| format!("s{i}")).collect::<Vec<_>>();
    let sql = format!("INSERT INTO t SELECT 1 FROM {}", from.join(", "));
    let out = flinkit(&["split", "--format", "json", "-"], Some(&sql));
    common::assert_success(&out);
    assert_eq!(
        json(&out)["statements"][0]["sources"]
            .as_array()
            .map(Vec::len),
        Some(100_000)
    );
    let deep = format!(
        "CREATE TABLE d (x {}INT{}) WITH ('connector' = 'kafka', 'topic' = 'd', \
         'properties.bootstrap.servers' = 'localhost:1', 'format' = 'json');",
        "ROW<a ".repeat(30_000),
        ">".repeat(30_000)
    );
    let dir = tempfile::tempdir().unwrap();
    let ddl = dir.path().join("d.sql");
    std::fs::write(&ddl, deep).unwrap();
    let out = flinkit(
        &[
            "produce",
            "--table",
            "d",
            "-f",
            ddl.to_str().unwrap(),
            "--value",
            "{}",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("deeper than 100 levels"), "{stderr}");
}

#[test]
fn findings_on_a_very_long_line_give_their_place_without_drawing_it() {
    let tables: String = (0..1000)
        .map(|i| {
            format!("CREATE TABLE t{i} (a INT) WITH ('connector' = 'kafka', 'format' = 'json');")
        })
        .collect();
    let started = std::time::Instant::now();
    let out = flinkit(&["validate", "-"], Some(&tables));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("  --> <stdin>:1:14\n"),
        "{}",
        &stderr[..500]
    );
    assert!(stderr.len() < 1000 * 400, "{}", stderr.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let out = flinkit(&["split", "-"], Some(&format!("{tables}SELECT 'x")));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("  --> <stdin>:1:"), "{stderr}");
}

/// A refused command in `--format json` prints one JSON document on stdout (a script parses
/// it whole), with its `error` or diagnostics, and exits 2.
#[test]
fn a_refusal_in_json_is_one_document() {
    let bad = "CREATE TABLE t (a INT) WITH ('connector' = 'kafka'); INSERT INTO t SELECT 1;";
    for args in [
        vec!["launch", "--format", "json", bad],
        vec!["launch", "--format", "json", "--dry-run", bad],
        vec!["validate", "--format", "json", bad],
        vec!["launch", "--format", "json", "SELECT 'open"],
        vec!["launch", "--format", "json", "--parallelism", "0", bad],
    ] {
        let out = flinkit(&args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let documents: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&out.stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})"));
        assert_eq!(documents.len(), 1, "{args:?}: {documents:#?}");
        let doc = &documents[0];
        assert!(
            doc["error"]["message"].is_string() || doc["ok"] == false,
            "{args:?}: {doc:#}"
        );
        if args[0] == "launch" && args.contains(&bad) && !args.contains(&"--parallelism") {
            assert_eq!(doc["diagnostics"][0]["code"], "missing-option", "{args:?}");
        }
    }
}

#[test]
fn a_malformed_job_id_is_refused_before_the_cluster_is_asked() {
    // Port 1 answers nothing: a command that got as far as the cluster would exit 1.
    for id in [
        "nothex",
        "../overview",
        "",
        "41ee197032ef0cdbc6656c3b75918d47?mode=stop",
    ] {
        for command in [
            vec!["jobs", "status", id],
            vec!["jobs", "exceptions", id],
            vec!["jobs", "cancel", id],
            vec!["jobs", "watch", id],
            vec!["jobs", "stop", id, "--savepoint-dir", "file:///tmp/sp"],
        ] {
            let mut args = command.clone();
            args.extend(["--flink-url", "http://localhost:1", "--format", "json"]);
            let out = flinkit(&args, None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("32 hex digits"), "{args:?}: {err}");
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(doc["error"]["message"].is_string(), "{args:?}: {doc}");
        }
    }
}

#[test]
fn credentials_in_a_cluster_address_never_show() {
    let ddl = "CREATE TABLE t (x INT) WITH ('connector' = 'datagen')";
    let insert =
        "CREATE TABLE s (x INT) WITH ('connector' = 'blackhole'); INSERT INTO s SELECT x FROM t";
    // A refused address is retried for 3 s: one command per service, one per format.
    for args in [
        vec![
            "jobs",
            "list",
            "--flink-url",
            "http://ops:s3cret@localhost:1",
            "-vv",
        ],
        vec![
            "launch",
            "--target",
            "gateway",
            "--gateway-url",
            "http://ops:s3cret@localhost:1",
            "--format",
            "json",
            ddl,
            insert,
        ],
    ] {
        let out = flinkit(&args, None);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {printed}");
        assert!(
            printed.contains("http://localhost:1"),
            "{args:?}: {printed}"
        );
        assert!(!printed.contains("s3cret"), "{args:?}: {printed}");
    }
}

#[test]
fn a_topic_name_the_broker_refuses_is_invalid_input_before_connecting() {
    // Nothing listens at the endpoint: a command that got as far as the broker would exit 1.
    let long = "t".repeat(250);
    for topic in ["bad topic/name", "", "..", "ünïcode", long.as_str()] {
        for args in [
            vec!["produce", "kafka", topic, "--key", "k", "--value", "{}"],
            vec!["consume", "kafka", topic, "--count", "1"],
        ] {
            let mut args = args.clone();
            args.extend(["--endpoint", "localhost:1", "--format", "json"]);
            let out = flinkit(&args, None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let message = doc["error"]["message"].as_str().unwrap();
            assert!(message.contains("a Kafka topic name"), "{message}");
        }
    }
    let out = flinkit(
        &[
            "produce",
            "pulsar",
            "two words",
            "--key",
            "k",
            "--value",
            "{}",
            "--endpoint",
            "pulsar://localhost:1",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scripts_set_pipeline_name_names_the_job_unless_job_name_is_given() {
    let script = [
        "SET 'pipeline.name' = 'orders ''daily'''",
        "CREATE TABLE t (x INT) WITH ('connector' = 'datagen')",
        "CREATE TABLE s (x INT) WITH ('connector' = 'blackhole')",
        "INSERT INTO s SELECT x FROM t",
    ];
    let mut args = vec!["launch", "--dry-run", "--format", "json"];
    args.extend(script);
    let out = flinkit(&args, None);
    assert_eq!(json(&out)["name"], "orders 'daily'");
    args.extend(["--job-name", "given"]);
    let out = flinkit(&args, None);
    assert_eq!(json(&out)["name"], "given");
}

#[test]
fn a_key_value_flag_without_its_equals_sign_is_refused_without_repeating_it() {
    for args in [
        vec![
            "produce",
            "kafka",
            "t",
            "-X",
            "sasl.password:s3cret",
            "--value",
            "{}",
        ],
        vec![
            "consume",
            "kafka",
            "t",
            "-X",
            "sasl.password:s3cret",
            "--format",
            "json",
        ],
        vec![
            "launch",
            "--dry-run",
            "--var",
            "TOKEN:s3cret",
            "--sql",
            "SELECT 1",
        ],
        vec!["run", "--file", "x.sql", "--set", "s3cret"],
    ] {
        let out = flinkit(&args, None);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {printed}");
        assert!(printed.contains("takes KEY=VALUE"), "{args:?}: {printed}");
        assert!(!printed.contains("s3cret"), "{args:?}: {printed}");
    }
}

#[test]
fn an_error_that_names_its_cause_prints_it_once() {
    // A script statement that only shows something: the launch error carries the reason as its
    // cause and names it in its own text; the chain printed repeated it.
    let sql = "CREATE TABLE t (x INT) WITH ('connector' = 'datagen'); SHOW TABLES";
    for format in ["text", "json"] {
        let out = flinkit(
            &["launch", "--target", "local", "--format", format, "-"],
            Some(sql),
        );
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{printed}");
        assert_eq!(
            printed.matches("is a show statement").count(),
            1,
            "{format}: {printed}"
        );
        assert!(printed.contains("<stdin>:1:56"), "{format}: {printed}");
    }
}
