//! A planted secret never appears in anything flinkit prints: not in split, graph, validate,
//! `--fix`, `launch --dry-run` or a real launch's errors and logs, in any format or verbosity —
//! whether it came from `--var`, the environment or an option whose key looks secret.

use std::process::Command;

const VAR_SECRET: &str = "s3cr3t-from-var";
const ENV_SECRET: &str = "s3cr3t-from-env";
const KEY_SECRET: &str = "hunter2-in-a-jaas-option";

fn script(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("secret.sql");
    std::fs::write(
        &path,
        "CREATE TABLE src (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3');\n\
         CREATE TABLE k (a INT) WITH (\n  'connector' = 'kafka',\n  'topic' = '${TOPIC}',\n  \
         'properties.bootstrap.servers' = 'localhost:9092',\n  'format' = 'json',\n  \
         'scan.startup.mode' = '${FLINKIT_TEST_MODE}',\n  \
         'properties.sasl.jaas.config' = 'org.apache.kafka.common.security.plain.PlainLoginModule required password=\"hunter2-in-a-jaas-option\";'\n);\n\
         CREATE TABLE legacy (a INT, PRIMARY KEY (a) NOT ENFORCED) WITH ('connector' = 'upsert-pulsar', 'topic' = '${TOPIC}', \
         'service-url' = 'pulsar://localhost:6650', 'key.format' = 'raw', 'value.format' = 'json');\n\
         INSERT INTO k SELECT a FROM src;\n",
    )
    .unwrap();
    path
}

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(args)
        .env("FLINKIT_TEST_MODE", ENV_SECRET)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_clean(what: &str, output: &str) {
    for secret in [VAR_SECRET, ENV_SECRET, KEY_SECRET] {
        assert!(
            !output.contains(secret),
            "{what} printed the secret {secret:?}:\n{output}"
        );
    }
}

#[test]
fn no_output_mode_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = script(dir.path());
    let file = file.to_str().unwrap();
    let topic = format!("TOPIC={VAR_SECRET}");
    let mut checked = 0;
    for format in ["text", "json"] {
        for command in [
            vec!["split", "-f", file],
            vec!["graph", "-f", file],
            vec!["validate", "-f", file, "--var", &topic],
            vec!["validate", "-f", file, "--var", &topic, "--fix"],
            vec!["launch", "--dry-run", "-f", file, "--var", &topic],
            vec!["-vv", "launch", "-f", file, "--var", &topic],
        ] {
            let mut args = command.clone();
            args.extend(["--format", format]);
            let output = run(&args);
            assert_clean(&args.join(" "), &output);
            checked += 1;
        }
    }
    for format in ["dot", "mermaid"] {
        assert_clean(format, &run(&["graph", "-f", file, "--format", format]));
    }
    assert_eq!(checked, 12);
    let env_file = dir.path().join("env.sql");
    std::fs::write(
        &env_file,
        "CREATE TABLE k (a INT) WITH ('connector' = 'kafka', 'topic' = 't', \
         'properties.bootstrap.servers' = 'localhost:9092', 'format' = 'json', \
         'scan.startup.mode' = '${FLINKIT_TEST_MODE}');",
    )
    .unwrap();
    let output = run(&[
        "validate",
        "--format",
        "json",
        "-f",
        env_file.to_str().unwrap(),
    ]);
    assert!(
        output.contains("bad-enum-value"),
        "the environment's value was substituted and checked: {output}"
    );
    assert_clean("validate with an environment variable", &output);
}

#[test]
fn a_flink_side_failure_does_not_echo_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.sql");
    std::fs::write(
        &file,
        "CREATE TABLE src (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '3', 'fields.a.min' = '${MIN}');\n\
         CREATE TABLE dst (a INT) WITH ('connector' = 'blackhole');\n\
         INSERT INTO dst SELECT a FROM src;\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(["-vv", "launch", "-f"])
        .arg(&file)
        .args(["--var", "MIN=s3cr3tvalue"])
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "Flink cannot parse the minimum: {printed}"
    );
    assert!(!printed.contains("s3cr3tvalue"), "{printed}");
    assert!(
        printed.contains("***"),
        "the failure is shown, masked: {printed}"
    );
}

/// Runs flinkit with `args`; returns its exit code and everything it printed.
fn run_status(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flinkit"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn real_connectors_secret_keys_hints_and_diagnostic_lines_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pulsar.sql");
    std::fs::write(
        &file,
        "CREATE TABLE p (a INT) WITH ('connector' = 'pulsar', 'topics' = 'persistent://public/default/p', \
         'service-url' = 'pulsar://localhost:6650', 'format' = 'json', \
         'pulsar.client.authPluginClassName' = 'org.apache.pulsar.client.impl.auth.AuthenticationToken', \
         'pulsar.client.authParams' = 'token:pulsar-literal-secret', 'nope' = 'x');\n\
         CREATE TABLE k (a INT) WITH ('connector' = 'blackhole', 'Auth-Params' = 'dashed-literal-secret');\n\
         INSERT INTO k SELECT a FROM p /*+ OPTIONS('properties.sasl.jaas.config' = 'x password=\"hint-literal-secret\";', \
         'topic' = '${HINT_TOPIC}') */ WHERE a > 0;\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    for format in ["text", "json"] {
        for command in [
            vec!["validate", "-f", file],
            vec!["split", "-f", file],
            vec!["launch", "--dry-run", "-f", file],
        ] {
            let mut args = command.clone();
            if command[0] != "split" {
                args.extend(["--var", "HINT_TOPIC=hint-var-secret"]);
            }
            args.extend(["--format", format]);
            let (_, printed) = run_status(&args);
            for secret in [
                "pulsar-literal-secret",
                "dashed-literal-secret",
                "hint-literal-secret",
                "hint-var-secret",
            ] {
                assert!(
                    !printed.contains(secret),
                    "{} printed {secret}:\n{printed}",
                    args.join(" ")
                );
            }
            if command[0] != "split" && format == "text" {
                assert!(
                    printed.contains("'pulsar.client.authParams' = '***'"),
                    "the diagnostic shows its line, masked:\n{printed}"
                );
            }
        }
    }
}

#[test]
fn a_password_does_not_garble_messages_that_contain_it() {
    let (code, printed) = run_status(&[
        "validate",
        "--sql",
        "CREATE TABLE c (a INT) WITH ('connector' = 'postgres-custom', 'password' = 'postgres')",
    ]);
    assert_eq!(code, Some(2), "a connector nothing provides: {printed}");
    assert!(
        printed.contains("no connector named 'postgres-custom'"),
        "{printed}"
    );
    assert!(!printed.contains("***-custom"), "{printed}");
    assert!(printed.contains("'password' = '***'"), "{printed}");
}

#[test]
fn a_job_name_from_a_secret_table_name_is_masked_and_distinct() {
    let name = |topic: &str| {
        let (_, printed) = run_status(&[
            "launch",
            "--dry-run",
            "--format",
            "json",
            "--var",
            "T=orders",
            "--sql",
            &format!(
                "CREATE TABLE orders (a INT) WITH ('connector' = 'blackhole', 'x' = '{topic}')"
            ),
            "--sql",
            "CREATE TABLE src (a INT) WITH ('connector' = 'datagen')",
            "--sql",
            "INSERT INTO orders SELECT a FROM src",
        ]);
        let value: serde_json::Value = serde_json::from_str(&printed).unwrap_or_else(|_| {
            panic!("{printed}");
        });
        value["name"].as_str().unwrap_or_default().to_string()
    };
    let first = name("${T}");
    let second = name("${T}-${T}");
    assert!(first.starts_with("flinkit: *** #"), "{first}");
    assert_ne!(first, second);
}

#[test]
fn a_lexing_error_shows_its_line_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.sql");
    std::fs::write(
        &file,
        "CREATE TABLE a (x INT) WITH ('connector' = 'datagen', 'ssl.keystore.password' = 'closed-secret', 'x' = 'unclosed);\n",
    )
    .unwrap();
    for command in ["split", "validate", "graph"] {
        let (code, printed) = run_status(&[command, "-f", file.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{printed}");
        assert!(printed.contains("unterminated"), "{printed}");
        assert!(!printed.contains("closed-secret"), "{command}: {printed}");
    }
    std::fs::write(
        &file,
        "CREATE TABLE b (x INT) WITH ('Auth-Params' = 'open-secret);\n",
    )
    .unwrap();
    let (code, printed) = run_status(&["split", "-f", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{printed}");
    assert!(!printed.contains("open-secret"), "{printed}");
}
