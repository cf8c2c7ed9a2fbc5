//! The secure stack, for real: `flinkit stack up --secure` starts Kafka (SASL_SSL,
//! SCRAM-SHA-512, ACLs), Pulsar (TLS, tokens, authorization) and Flink with the SQL Gateway
//! (HTTPS); the bridge reaches the brokers from a table's own `properties.*` as Flink writes
//! them; a job launched over HTTPS reads and writes the secure Kafka; and every refused
//! credential — wrong password, wrong or expired token, untrusted certificate, missing
//! permission — is one line naming the endpoint, exit 1, with the planted secret in no output
//! (text, JSON, `-vv`); `run`'s Pulsar topics are managed with the table's token and CA; and
//! `stack up --secure` repairs every service after `kill -9`. One test runs it all so the stack
//! starts once; it has its own state folder and ports and always stops what it started.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flinkit::bridge::pulsar;
use flinkit::stack::secure;
use serde_json::Value;

/// The secure stack's ports in this test.
const PORTS: &str = "[secure_stack]\n\
    kafka_port = 29192\n\
    kafka_controller_port = 29193\n\
    pulsar_port = 29651\n\
    pulsar_http_port = 29443\n\
    flink_port = 29481\n\
    flink_rpc_port = 29223\n\
    gateway_port = 29483\n";

struct Secure {
    dir: tempfile::TempDir,
}

impl Secure {
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn secrets(&self) -> PathBuf {
        self.state().join("stack-secure/secrets")
    }

    fn secret(&self, name: &str) -> String {
        std::fs::read_to_string(self.secrets().join(name))
            .unwrap()
            .trim()
            .to_string()
    }

    /// flinkit in the test's folder, with `env` set and the Flink variables of the shell
    /// running the tests removed.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_in(self.dir.path(), args, env)
    }

    /// As `run`, in `dir` (whose `flinkit.toml` is read).
    fn run_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = common::flinkit_command();
        command
            .args(args)
            .current_dir(dir)
            .env("FLINKIT_STATE_DIR", self.state())
            .env_remove("FLINKIT_LOG");
        for name in [
            "FLINKIT_FLINK_URL",
            "FLINKIT_GATEWAY_URL",
            "FLINKIT_FLINK_CA_FILE",
            "FLINKIT_GATEWAY_CA_FILE",
            "FLINKIT_TARGET",
            "KAFKA_PASSWORD",
        ] {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        command.output().expect("flinkit runs")
    }
}

impl Drop for Secure {
    fn drop(&mut self) {
        let out = self.run(&["stack", "down", "--secure", "--purge"], &[]);
        if !out.status.success() {
            eprintln!("stack down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Kafka table on the secure broker, signing in as `user` with `${KAFKA_PASSWORD}`,
/// trusting `ca` (none: the system's roots only).
fn kafka_table(name: &str, topic: &str, user: &str, ca: Option<&Path>) -> String {
    let trust = ca.map_or(String::new(), |ca| {
        format!(
            ", 'properties.ssl.truststore.type' = 'PEM', 'properties.ssl.truststore.location' = '{}'",
            ca.display()
        )
    });
    format!(
        "CREATE TABLE {name} (id BIGINT, name STRING) WITH ('connector' = 'kafka', \
         'topic' = '{topic}', 'properties.bootstrap.servers' = 'localhost:29192', \
         'properties.security.protocol' = 'SASL_SSL', 'properties.sasl.mechanism' = 'SCRAM-SHA-512', \
         'properties.sasl.jaas.config' = \
         'org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule \
         required username=\"{user}\" password=\"${{KAFKA_PASSWORD}}\";'{trust}, \
         'scan.startup.mode' = 'earliest-offset', 'format' = 'json');\n"
    )
}

/// A Pulsar table on the secure broker with the token in `token_file`.
fn pulsar_table(name: &str, topic: &str, token_file: &Path, ca: &Path) -> String {
    format!(
        "CREATE TABLE {name} (id BIGINT, name STRING) WITH ('connector' = 'pulsar', \
         'topics' = '{topic}', 'service-url' = 'pulsar+ssl://localhost:29651', \
         'admin-url' = 'https://localhost:29443', \
         'pulsar.client.authPluginClassName' = 'org.apache.pulsar.client.impl.auth.AuthenticationToken', \
         'pulsar.client.authParams' = 'file://{}', \
         'pulsar.client.tlsTrustCertsFilePath' = '{}', 'format' = 'json');\n",
        token_file.display(),
        ca.display()
    )
}

/// A refusal: exit 1, one line on stderr naming `endpoint`, `secret` in no output with any of
/// text, JSON and `-vv`.
fn assert_refused(
    secure: &Secure,
    args: &[&str],
    env: &[(&str, &str)],
    endpoint: &str,
    secret: &str,
    says: &str,
) {
    for extra in [&[][..], &["--format", "json"][..], &["-vv"][..]] {
        let mut all: Vec<&str> = extra.to_vec();
        all.extend_from_slice(args);
        let out = secure.run(&all, env);
        let shown = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {shown}");
        assert!(!shown.contains(secret), "{all:?} shows the secret: {shown}");
        assert!(
            !shown.contains("at org.apache"),
            "{all:?}: a Java stack: {shown}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if extra.is_empty() {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(lines.len(), 1, "{all:?}: not one line: {stderr}");
            assert!(lines[0].contains(endpoint), "{all:?}: {stderr}");
            assert!(
                lines[0].to_lowercase().contains(says),
                "{all:?}: expected `{says}`: {stderr}"
            );
        }
        if extra.first() == Some(&"--format") {
            let doc: Value = serde_json::from_slice(&out.stdout)
                .or_else(|_| serde_json::from_slice(&out.stderr))
                .unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}): {shown}"));
            assert!(doc.to_string().contains(endpoint), "{all:?}: {doc}");
        }
    }
}

/// The short names of the topics in the secure Pulsar's `public/default`, asked as `admin`.
fn topics_listed(secure: &Secure, ca: &Path) -> Vec<String> {
    let certificate = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(certificate)
        .build()
        .unwrap();
    let listed: Vec<String> = client
        .get("https://localhost:29443/admin/v2/persistent/public/default")
        .bearer_auth(secure.secret("pulsar-admin.token"))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .unwrap();
    listed
        .iter()
        .map(|t| t.rsplit('/').next().unwrap_or(t).to_string())
        .collect()
}

#[test]
fn the_secure_stack_enforces_credentials_and_serves_the_bridge_and_jobs() {
    let secure = Secure {
        dir: tempfile::tempdir().unwrap(),
    };
    std::fs::write(secure.dir.path().join("flinkit.toml"), PORTS).unwrap();

    // Up: healthy, with what a table needs, secrets readable only by their owner.
    let up = secure.run(&["stack", "up", "--secure", "--timeout", "300s"], &[]);
    assert!(up.status.success(), "stack up --secure: {}", text(&up));
    let status = secure.run(&["stack", "status", "--secure", "--format", "json"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let services = doc["services"].as_array().unwrap();
    let names: Vec<&str> = services.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["flink", "gateway", "kafka", "pulsar"]);
    let endpoint = |name: &str| {
        services.iter().find(|s| s["name"] == name).unwrap()["endpoint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(endpoint("flink"), "https://localhost:29481");
    assert_eq!(endpoint("pulsar"), "pulsar+ssl://localhost:29651");
    let kafka = services.iter().find(|s| s["name"] == "kafka").unwrap();
    assert_eq!(kafka["connect"]["properties.security.protocol"], "SASL_SSL");
    let ca = secure.secrets().join("ca.pem");
    let password = secure.secret("kafka-flinkit.password");
    let admin_token = secure.secret("pulsar-admin.token");
    let status_text = secure.run(&["stack", "status", "--secure"], &[]);
    for shown in [text(&status), text(&status_text), text(&up)] {
        assert!(
            !shown.contains(&password) && !shown.contains(&admin_token),
            "{shown}"
        );
    }
    assert!(text(&status_text).contains("'properties.sasl.mechanism' = 'SCRAM-SHA-512'"));
    for entry in std::fs::read_dir(secure.secrets()).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if path.extension().is_some_and(|e| e == "pem") && !path.ends_with("kafka-keystore.pem") {
            continue; // certificates are public
        }
        assert_eq!(mode, 0o600, "{}", path.display());
    }

    // The bridge reaches the secure Kafka from the table's own properties.
    let sql = secure.dir.path().join("tables.sql");
    let topic = common::unique("secure-users");
    std::fs::write(
        &sql,
        [
            kafka_table("users", &topic, "flinkit", Some(&ca)),
            kafka_table("users_untrusted", &topic, "flinkit", None),
            kafka_table("users_guest", &topic, "guest", Some(&ca)),
            pulsar_table(
                "pulsar_users",
                &common::unique("secure-users"),
                &secure.secrets().join("pulsar-flinkit.token"),
                &ca,
            ),
        ]
        .concat(),
    )
    .unwrap();
    let sql = sql.display().to_string();
    let env = [("KAFKA_PASSWORD", password.as_str())];
    let produce = secure.run(
        &[
            "produce",
            "--table",
            "users",
            "-f",
            &sql,
            "--value",
            r#"{"id":1,"name":"ada"}"#,
        ],
        &env,
    );
    assert!(produce.status.success(), "{}", text(&produce));
    let consume = secure.run(
        &["consume", "--table", "users", "-f", &sql, "--count", "1"],
        &env,
    );
    assert!(consume.status.success(), "{}", text(&consume));
    assert!(text(&consume).contains("ada"), "{}", text(&consume));

    // Without a table: the credentials from flinkit.toml's [bridge.kafka], the password from
    // the environment.
    let with_bridge = secure.dir.path().join("bridge");
    std::fs::create_dir_all(&with_bridge).unwrap();
    std::fs::write(
        with_bridge.join("flinkit.toml"),
        format!(
            "{PORTS}\n[bridge.kafka]\n\
             \"security.protocol\" = \"SASL_SSL\"\n\
             \"sasl.mechanism\" = \"SCRAM-SHA-512\"\n\
             \"sasl.username\" = \"flinkit\"\n\
             \"sasl.password\" = \"${{KAFKA_PASSWORD}}\"\n\
             \"ssl.ca.location\" = \"{}\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let raw_topic = common::unique("secure-raw");
    let raw = ["--endpoint", "localhost:29192"];
    let produce = secure.run_in(
        &with_bridge,
        &[
            &[
                "produce",
                "kafka",
                &raw_topic,
                "--value",
                r#"{"note":"from-toml"}"#,
            ][..],
            &raw[..],
        ]
        .concat(),
        &env,
    );
    assert!(produce.status.success(), "{}", text(&produce));
    let consume = secure.run_in(
        &with_bridge,
        &[
            &["consume", "kafka", &raw_topic, "--count", "1"][..],
            &raw[..],
        ]
        .concat(),
        &env,
    );
    assert!(text(&consume).contains("from-toml"), "{}", text(&consume));
    let unset = secure.run_in(
        &with_bridge,
        &[
            &["produce", "kafka", &raw_topic, "--value", "{}"][..],
            &raw[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(unset.status.code(), Some(2), "{}", text(&unset));
    assert!(
        text(&unset).contains("${KAFKA_PASSWORD} has no value"),
        "{}",
        text(&unset)
    );

    // Refusals: wrong password, untrusted certificate, missing permission.
    let planted = "pl4nted-s3cret-w0rd";
    assert_refused(
        &secure,
        &[
            "produce",
            "--table",
            "users",
            "-f",
            &sql,
            "--value",
            r#"{"id":2}"#,
        ],
        &[("KAFKA_PASSWORD", planted)],
        "localhost:29192",
        planted,
        "authentication",
    );
    assert_refused(
        &secure,
        &[
            "produce",
            "--table",
            "users_untrusted",
            "-f",
            &sql,
            "--value",
            r#"{"id":2}"#,
        ],
        &env,
        "localhost:29192",
        &password,
        "certificate",
    );
    assert_refused(
        &secure,
        &[
            "produce",
            "--table",
            "users_guest",
            "-f",
            &sql,
            "--value",
            r#"{"id":2}"#,
        ],
        &[("KAFKA_PASSWORD", &secure.secret("kafka-guest.password"))],
        "localhost:29192",
        &secure.secret("kafka-guest.password"),
        "authoriz",
    );

    // Pulsar over TLS with a token; a wrong, an expired and a powerless token are refused.
    let produce = secure.run(
        &[
            "produce",
            "--table",
            "pulsar_users",
            "-f",
            &sql,
            "--value",
            r#"{"id":1,"name":"grace"}"#,
        ],
        &env,
    );
    assert!(produce.status.success(), "{}", text(&produce));
    let consume = secure.run(
        &[
            "consume",
            "--table",
            "pulsar_users",
            "-f",
            &sql,
            "--count",
            "1",
        ],
        &env,
    );
    assert!(text(&consume).contains("grace"), "{}", text(&consume));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let secrets = secure::Secrets::at(secure.secrets());
    let expired = secrets.expired_pulsar_token("flinkit", now - 3600).unwrap();
    let flinkit_token = secure.secret("pulsar-flinkit.token");
    let forged = format!("{}x", &flinkit_token[..flinkit_token.len() - 1]);
    for (token, says) in [
        (expired.as_str(), "authenticat"),
        (forged.as_str(), "authenticat"),
        (secure.secret("pulsar-guest.token").as_str(), "authoriz"),
    ] {
        let file = secure.dir.path().join("token");
        std::fs::write(&file, token).unwrap();
        let other = secure.dir.path().join("other.sql");
        std::fs::write(
            &other,
            pulsar_table("t", &common::unique("secure-denied"), &file, &ca),
        )
        .unwrap();
        assert_refused(
            &secure,
            &[
                "produce",
                "--table",
                "t",
                "-f",
                &other.display().to_string(),
                "--value",
                r#"{"id":2}"#,
            ],
            &[],
            "localhost:29651",
            token,
            says,
        );
    }

    // The topics `run` makes and removes for a Pulsar table go through the admin API with the
    // table's own token and CA, as its producers and consumers reach the broker.
    let token_params = format!(
        "file://{}",
        secure.secrets().join("pulsar-flinkit.token").display()
    );
    let table_settings: Vec<(String, String)> = [
        (
            "pulsar.client.authPluginClassName",
            secure::PULSAR_TOKEN_PLUGIN,
        ),
        ("pulsar.client.authParams", token_params.as_str()),
        ("pulsar.client.tlsTrustCertsFilePath", ca.to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let managed = vec![common::unique("secure-managed")];
    let admin = "https://localhost:29443";
    let timeout = Duration::from_secs(20);
    common::block_on(pulsar::create_topics(
        admin,
        &managed,
        &table_settings,
        timeout,
    ))
    .expect("creating a topic with the table's token and CA");
    assert!(topics_listed(&secure, &ca).contains(&managed[0]));
    let untrusted = common::block_on(pulsar::create_topics(admin, &managed, &[], timeout))
        .expect_err("the admin API without the table's CA");
    let said = untrusted.with_causes();
    assert!(
        said.contains(admin) && said.contains("certificate"),
        "{said}"
    );
    let guest = [
        table_settings[0].clone(),
        (
            "pulsar.client.authParams".to_string(),
            format!(
                "file://{}",
                secure.secrets().join("pulsar-guest.token").display()
            ),
        ),
        table_settings[2].clone(),
    ];
    let refused = common::block_on(pulsar::delete_topics(admin, &managed, &guest, timeout))
        .expect_err("a token without permission");
    assert!(
        refused.with_causes().contains("403"),
        "{}",
        refused.with_causes()
    );
    common::block_on(pulsar::delete_topics(
        admin,
        &managed,
        &table_settings,
        timeout,
    ))
    .expect("deleting the topic with the table's token and CA");
    assert!(!topics_listed(&secure, &ca).contains(&managed[0]));

    // Flink over HTTPS: trusted through FLINKIT_FLINK_CA_FILE, refused without it.
    let ca_text = ca.display().to_string();
    let flink = [
        ("FLINKIT_FLINK_URL", "https://localhost:29481"),
        ("FLINKIT_FLINK_CA_FILE", ca_text.as_str()),
    ];
    let jobs = secure.run(&["jobs", "list"], &flink);
    assert!(jobs.status.success(), "{}", text(&jobs));
    assert_refused(
        &secure,
        &["jobs", "list"],
        &flink[..1],
        "https://localhost:29481",
        &password,
        "certificate",
    );

    // A job on the secure cluster reads and writes the secure Kafka.
    let out_topic = common::unique("secure-out");
    let job = secure.dir.path().join("job.sql");
    std::fs::write(
        &job,
        [
            kafka_table("users", &topic, "flinkit", Some(&ca)),
            kafka_table("names", &out_topic, "flinkit", Some(&ca)),
            "INSERT INTO names SELECT id * 10, UPPER(name) FROM users;\n".into(),
        ]
        .concat(),
    )
    .unwrap();
    let launch = secure.run(
        &[
            "--format",
            "json",
            "launch",
            "-f",
            &job.display().to_string(),
            "--target",
            "rest",
            "--detach",
        ],
        &[flink[0], flink[1], env[0]],
    );
    assert!(launch.status.success(), "{}", text(&launch));
    let read = std::fs::write(
        secure.dir.path().join("names.sql"),
        kafka_table("names", &out_topic, "flinkit", Some(&ca)),
    );
    read.unwrap();
    let launched: Value = serde_json::from_slice(&launch.stdout).unwrap();
    let id = launched["job_id"].as_str().unwrap_or_default();
    // The sink creates its topic when the job's first records reach it.
    let started = Instant::now();
    let consume = loop {
        let consume = secure.run(
            &[
                "consume",
                "--table",
                "names",
                "-f",
                "names.sql",
                "--count",
                "1",
            ],
            &env,
        );
        if text(&consume).contains("ADA") || started.elapsed() > Duration::from_secs(120) {
            break consume;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let exceptions = secure.run(&["jobs", "exceptions", id], &flink);
    assert!(
        text(&consume).contains("ADA"),
        "{}\n{}",
        text(&consume),
        text(&exceptions)
    );
    let cancel = secure.run(&["jobs", "cancel", id], &flink);
    assert!(cancel.status.success(), "{launched} {}", text(&cancel));

    // Every secure service killed with SIGKILL: `stack up --secure` brings each back, with the
    // same certificates and credentials.
    let status = secure.run(&["stack", "status", "--secure", "--format", "json"], &[]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let pids: Vec<u64> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["pids"].as_array().unwrap().clone())
        .filter_map(|pid| pid.as_u64())
        .collect();
    assert!(pids.len() >= 4, "{doc}");
    for pid in &pids {
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success(), "kill -9 {pid}");
    }
    let repaired = Instant::now();
    let up = secure.run(&["stack", "up", "--secure", "--timeout", "300s"], &[]);
    assert!(
        up.status.success(),
        "stack up --secure after kill -9: {}",
        text(&up)
    );
    eprintln!("repaired after kill -9 in {:.1?}", repaired.elapsed());
    let status = secure.run(&["stack", "status", "--secure", "--format", "json"], &[]);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    for service in doc["services"].as_array().unwrap() {
        assert_eq!(service["healthy"], true, "{service}");
        for pid in service["pids"].as_array().unwrap() {
            assert!(!pids.contains(&pid.as_u64().unwrap()), "{service}");
        }
    }
    let consume = secure.run(
        &["consume", "--table", "users", "-f", &sql, "--count", "1"],
        &env,
    );
    assert!(text(&consume).contains("ada"), "{}", text(&consume));
    let consume = secure.run(
        &[
            "consume",
            "--table",
            "pulsar_users",
            "-f",
            &sql,
            "--count",
            "1",
        ],
        &env,
    );
    assert!(text(&consume).contains("grace"), "{}", text(&consume));
    let jobs = secure.run(&["jobs", "list"], &flink);
    assert!(jobs.status.success(), "{}", text(&jobs));
}
