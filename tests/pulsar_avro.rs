//! Pulsar topics with a registered `AVRO` schema, against the stack's Pulsar
//! (`FLINKIT_PULSAR_URL`, admin `FLINKIT_PULSAR_ADMIN_URL`), proven with the Pulsar project's
//! own Java client (the stack's Pulsar jars, run in a real JVM): records Java wrote with
//! `Schema.AVRO(User.class)` — two versions of the schema — are decoded by `flinkit consume`,
//! each with the version that wrote it; rows `flinkit produce` wrote from an `avro` table into
//! a namespace that enforces schemas are read back field for field by Java's
//! `Schema.AUTO_CONSUME()`; a table that does not fit the schema, and a row that does not fit
//! the table, are explained before anything is sent. An `avro` table on a topic without a
//! schema registers none (Flink's Pulsar sink announces none either).
//!
//! Each test uses a namespace of its own, deleted at the end. Without the stack the tests say
//! so and stop (in CI they fail).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_success, json, unique};
use serde_json::{Value, json};

fn url() -> String {
    std::env::var("FLINKIT_PULSAR_URL").unwrap_or_else(|_| "pulsar://localhost:6650".into())
}

fn admin() -> String {
    std::env::var("FLINKIT_PULSAR_ADMIN_URL").unwrap_or_else(|_| "http://localhost:8080".into())
}

/// Whether Pulsar's admin API answers; in CI it must.
fn pulsar_up() -> bool {
    let up = reqwest::blocking::get(format!("{}/admin/v2/clusters", admin()))
        .is_ok_and(|r| r.status().is_success());
    assert!(
        up || std::env::var_os("CI").is_none(),
        "CI runs these against the stack's Pulsar (admin {})",
        admin()
    );
    if !up {
        eprintln!(
            "skipped: no Pulsar admin API at {}; `flinkit stack up` first",
            admin()
        );
    }
    up
}

/// A namespace of the test's own (schemas enforced when `enforced`), deleted when dropped.
struct Namespace(String);

impl Namespace {
    fn new(enforced: bool) -> Self {
        let name = format!("public/{}", unique("avro").replace('-', ""));
        let http = reqwest::blocking::Client::new();
        ok(http
            .put(format!("{}/admin/v2/namespaces/{name}", admin()))
            .send());
        if enforced {
            ok(http
                .post(format!(
                    "{}/admin/v2/namespaces/{name}/schemaValidationEnforced",
                    admin()
                ))
                .json(&true)
                .send());
        }
        Self(name)
    }

    fn topic(&self, name: &str) -> String {
        format!("persistent://{}/{name}", self.0)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = reqwest::blocking::Client::new()
            .delete(format!(
                "{}/admin/v2/namespaces/{}?force=true",
                admin(),
                self.0
            ))
            .send();
    }
}

fn ok(answer: reqwest::Result<reqwest::blocking::Response>) {
    let answer = answer.unwrap();
    let status = answer.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        answer.text().unwrap_or_default()
    );
}

/// The topic's registered schema, as the admin API gives it (`None`: it has none).
fn registered(topic: &str) -> Option<Value> {
    let path = topic.trim_start_matches("persistent://");
    let answer =
        reqwest::blocking::get(format!("{}/admin/v2/schemas/{path}/schema", admin())).unwrap();
    (answer.status() != reqwest::StatusCode::NOT_FOUND).then(|| answer.json().unwrap())
}

/// The Java side: `produce TOPIC VERSION N` sends N users with `Schema.AVRO` of the POJO of
/// that version (2 adds a nullable `email`, a compatible change), keyed by name; `consume TOPIC N` reads N records with
/// `Schema.AUTO_CONSUME()` and prints each as a JSON line of its fields and schema version;
/// `produce-typed TOPIC` sends two records of a class with an enum field.
const JAVA: &str = r#"
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.*;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.*;
import org.apache.pulsar.client.api.schema.Field;
import org.apache.pulsar.client.api.schema.GenericRecord;

public class AvroClient {
    // Two versions of one record (Avro compares record names without their namespace).
    public static class V1 {
        public static class User {
            public String name;
            public int age;
            public Double score;
            public List<String> tags;
        }
    }

    public static class V2 {
        public static class User {
            public String name;
            public int age;
            public Double score;
            public List<String> tags;
            public String email;
        }
    }

    // A record with an Avro enum (nullable, as Java's reflection makes it) and a fixed-size
    // number: what no table's derived schema has.
    public static class Typed {
        public enum Status { ON, OFF }
        public String name;
        public Status status;
        public long count;
    }

    static String quote(String s) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\');
            out.append(c);
        }
        return out.append('"').toString();
    }

    static String json(Object v) {
        if (v == null) return "null";
        if (v instanceof Number || v instanceof Boolean) return v.toString();
        if (v instanceof Collection) {
            StringJoiner items = new StringJoiner(",", "[", "]");
            for (Object item : (Collection<?>) v) items.add(json(item));
            return items.toString();
        }
        return quote(v.toString());
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        String url = System.getenv("PULSAR_URL");
        try (PulsarClient client = PulsarClient.builder().serviceUrl(url).build()) {
            if (args[0].equals("produce-typed")) {
                try (Producer<Typed> p = client.newProducer(Schema.AVRO(Typed.class)).topic(args[1]).create()) {
                    Typed t = new Typed();
                    t.name = "a";
                    t.status = Typed.Status.ON;
                    t.count = 5_000_000_000L;
                    p.send(t);
                    t.name = "b";
                    t.status = null;
                    t.count = -1;
                    p.send(t);
                }
            } else if (args[0].equals("produce")) {
                int n = Integer.parseInt(args[3]);
                if (args[2].equals("1")) {
                    try (Producer<V1.User> p = client.newProducer(Schema.AVRO(V1.User.class)).topic(args[1]).create()) {
                        for (int i = 0; i < n; i++) {
                            V1.User u = new V1.User();
                            u.name = i == 0 ? "Zoë" : "user" + i;
                            u.age = 20 + i;
                            u.score = i == 1 ? null : i + 0.5;
                            u.tags = Arrays.asList("t" + i, "x");
                            p.newMessage().key(u.name).value(u).send();
                        }
                    }
                } else {
                    try (Producer<V2.User> p = client.newProducer(Schema.AVRO(V2.User.class)).topic(args[1]).create()) {
                        for (int i = 0; i < n; i++) {
                            V2.User u = new V2.User();
                            u.name = "v2-" + i;
                            u.age = 40 + i;
                            u.score = 2.25;
                            u.tags = Collections.emptyList();
                            u.email = "u" + i + "@example.com";
                            p.newMessage().key(u.name).value(u).send();
                        }
                    }
                }
            } else {
                int n = Integer.parseInt(args[2]);
                try (Consumer<GenericRecord> c = client.newConsumer(Schema.AUTO_CONSUME())
                        .topic(args[1]).subscriptionName("java")
                        .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest).subscribe()) {
                    for (int i = 0; i < n; i++) {
                        Message<GenericRecord> m = c.receive(30, TimeUnit.SECONDS);
                        if (m == null) throw new IllegalStateException("no record " + (i + 1));
                        GenericRecord r = m.getValue();
                        StringJoiner fields = new StringJoiner(",", "{", "}");
                        for (Field f : r.getFields()) fields.add(quote(f.getName()) + ":" + json(r.getField(f)));
                        long version = ByteBuffer.wrap(m.getSchemaVersion()).getLong();
                        out.println("{\"version\":" + version + ",\"type\":" + quote(r.getSchemaType().toString())
                            + ",\"fields\":" + fields + "}");
                    }
                }
            }
        }
    }
}
"#;

/// Runs the Java client with `args` on the stack's Pulsar jars.
fn java(dir: &Path, args: &[&str]) -> Output {
    let cache = flinkit::provision::Cache::from_env().unwrap();
    let classpath: Vec<String> = cache
        .stack_classpath("pulsar", "Pulsar", false, &mut |_| {})
        .expect("the stack's Pulsar jars (flinkit stack up fetches them)")
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let source: PathBuf = dir.join("AvroClient.java");
    std::fs::write(&source, JAVA).unwrap();
    let out = common::pulsar_java(dir)
        .env("PULSAR_URL", url())
        .arg("-cp")
        .arg(classpath.join(":"))
        .arg(&source)
        .args(args)
        .output()
        .expect("java runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `flinkit ARGS` with the stack's Pulsar admin API named.
fn flinkit(args: &[&str]) -> Output {
    common::flinkit_command()
        .env("FLINKIT_PULSAR_ADMIN_URL", admin())
        .args(args)
        .output()
        .unwrap()
}

/// The values of the records `flinkit consume` prints.
fn values(out: &Output) -> Vec<Value> {
    assert_success(out);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            assert!(record.get("decode_error").is_none(), "{record}");
            record["value"].clone()
        })
        .collect()
}

fn write_sql(dir: &Path, topic: &str, columns: &str) -> String {
    let path = dir.join(format!("{}.sql", unique("users")));
    std::fs::write(
        &path,
        format!(
            "CREATE TABLE users ({columns}) WITH ('connector' = 'pulsar', 'topics' = '{topic}', \
             'service-url' = '{}', 'admin-url' = '{}', 'format' = 'avro');\n",
            url(),
            admin()
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn records_javas_client_wrote_are_decoded_with_the_version_that_wrote_them() {
    if !pulsar_up() {
        return;
    }
    let namespace = Namespace::new(false);
    let topic = namespace.topic("users");
    let dir = tempfile::tempdir().unwrap();
    java(dir.path(), &["produce", &topic, "1", "2"]);
    java(dir.path(), &["produce", &topic, "2", "1"]);
    let latest = registered(&topic).unwrap();
    assert_eq!(latest["type"], "AVRO");
    assert_eq!(latest["version"], 1, "{latest}");

    // Without a table: the schema's fields, each record read with its own version (the
    // first two lack `email`, which the latest version has).
    let out = flinkit(&[
        "consume",
        "pulsar",
        &topic,
        "--endpoint",
        &url(),
        "--timeout",
        "3s",
    ]);
    let expected = [
        json!({"name": "Zoë", "age": 20, "score": 0.5, "tags": ["t0", "x"], "email": null}),
        json!({"name": "user1", "age": 21, "score": null, "tags": ["t1", "x"], "email": null}),
        json!({"name": "v2-0", "age": 40, "score": 2.25, "tags": [],
               "email": "u0@example.com"}),
    ];
    assert_eq!(values(&out), expected);

    // With a table: its columns, by name, from whichever version wrote them.
    let sql = write_sql(
        dir.path(),
        &topic,
        "name STRING, age INT NOT NULL, score DOUBLE, tags ARRAY<STRING>",
    );
    let out = flinkit(&["consume", "--table", "users", "-f", &sql, "--timeout", "3s"]);
    let read = values(&out);
    assert_eq!(read.len(), 3);
    let mut rows = Vec::new();
    for (read, expected) in read.iter().zip(&expected) {
        let mut expected = expected.clone();
        expected.as_object_mut().unwrap().remove("email");
        assert_eq!(*read, expected);
        rows.push(expected);
    }

    // As an upsert table keyed by name (`--upsert`): each record too by its own version.
    let path = dir.path().join("upsert.sql");
    std::fs::write(
        &path,
        format!(
            "CREATE TABLE users (name STRING, age INT NOT NULL, score DOUBLE, tags ARRAY<STRING>, \
             PRIMARY KEY (name) NOT ENFORCED) WITH ('connector' = 'upsert-pulsar', \
             'topics' = '{topic}', 'service-url' = '{}', 'admin-url' = '{}', \
             'key.format' = 'raw', 'value.format' = 'avro');\n",
            url(),
            admin()
        ),
    )
    .unwrap();
    let out = flinkit(&[
        "consume",
        "--table",
        "users",
        "-f",
        path.to_str().unwrap(),
        "--timeout",
        "3s",
        "--upsert",
        "--format",
        "json",
    ]);
    assert_success(&out);
    rows.sort_by_key(|row| row["name"].to_string());
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!({ "rows": rows }),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Without a table, `consume` decodes a schema's fields into the types Flink reads them as:
/// an enum (which no table's derived schema has, so no `avro` table reads it) as its symbol.
#[test]
fn an_enum_field_javas_client_wrote_is_read_as_its_symbol() {
    if !pulsar_up() {
        return;
    }
    let namespace = Namespace::new(false);
    let topic = namespace.topic("typed");
    let dir = tempfile::tempdir().unwrap();
    java(dir.path(), &["produce-typed", &topic]);
    let out = flinkit(&[
        "consume",
        "pulsar",
        &topic,
        "--endpoint",
        &url(),
        "--timeout",
        "3s",
    ]);
    assert_eq!(
        values(&out),
        [
            json!({"name": "a", "status": "ON", "count": 5_000_000_000_i64}),
            json!({"name": "b", "status": null, "count": -1}),
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn rows_flinkit_wrote_are_read_back_by_javas_client_field_for_field() {
    if !pulsar_up() {
        return;
    }
    // A namespace that takes only producers announcing the topic's schema.
    let namespace = Namespace::new(true);
    let topic = namespace.topic("users");
    let dir = tempfile::tempdir().unwrap();
    // What Java's Schema.AVRO(User.class) registers, registered before anything is written.
    let path = topic.trim_start_matches("persistent://");
    let definition = json!({"type": "record", "name": "User", "namespace": "AvroClient",
    "fields": [
        {"name": "name", "type": ["null", "string"], "default": null},
        {"name": "age", "type": "int"},
        {"name": "score", "type": ["null", "double"], "default": null},
        {"name": "tags", "type": ["null", {"type": "array", "items": "string"}],
         "default": null}
    ]});
    ok(reqwest::blocking::Client::new()
        .post(format!("{}/admin/v2/schemas/{path}/schema", admin()))
        .json(&json!({"type": "AVRO", "schema": definition.to_string(), "properties": {}}))
        .send());

    let rows = [
        json!({"name": "Zoë \"q\"", "age": 31, "score": 1.25, "tags": ["a", "b"]}),
        json!({"name": null, "age": -7, "score": null, "tags": null}),
        json!({"name": "c", "age": 2147483647, "score": -0.5, "tags": []}),
    ];
    let file = dir.path().join("rows.jsonl");
    let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.display().to_string();

    // A table whose `age` may be null does not write what the schema has: explained.
    let misfit = write_sql(
        dir.path(),
        &topic,
        "name STRING, age INT, score DOUBLE, tags ARRAY<STRING NOT NULL>",
    );
    let out = flinkit(&[
        "produce", "--table", "users", "-f", &misfit, "--file", &file, "--format", "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error = json(&out)["error"]["message"].as_str().unwrap().to_string();
    for part in [
        &format!("topic {topic} has a registered AVRO schema (version 0)"),
        "column `age` is INT",
        "the schema's field `age` is \"int\" (declare it `age` INT NOT NULL)",
        "What to do:",
        "`name` STRING, `age` INT NOT NULL, `score` DOUBLE, `tags` ARRAY<STRING NOT NULL>",
    ] {
        assert!(error.contains(part), "{part}: {error}");
    }

    let sql = write_sql(
        dir.path(),
        &topic,
        "name STRING, age INT NOT NULL, score DOUBLE, tags ARRAY<STRING NOT NULL>",
    );
    // A row that does not fit: the line and the field, and nothing sent.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n{{\"name\": \"x\", \"age\": null}}\n", lines[0]),
    )
    .unwrap();
    let out = flinkit(&[
        "produce",
        "--table",
        "users",
        "-f",
        &sql,
        "--file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.jsonl:2:") && stderr.contains("age"),
        "{stderr}"
    );

    let out = flinkit(&[
        "produce", "--table", "users", "-f", &sql, "--file", &file, "--format", "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["sent"], 3);
    let read = java(dir.path(), &["consume", &topic, "3"]);
    let read: Vec<Value> = String::from_utf8(read.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read.len(), 3, "the bad file sent nothing");
    for (read, row) in read.iter().zip(&rows) {
        assert_eq!(read["type"], "AVRO");
        assert_eq!(read["version"], 0);
        assert_eq!(read["fields"], *row);
    }
    // No new schema version: flinkit announced the registered one.
    assert_eq!(registered(&topic).unwrap()["version"], 0);
    // And flinkit reads its own records back.
    let out = flinkit(&["consume", "--table", "users", "-f", &sql, "--timeout", "3s"]);
    assert_eq!(values(&out), rows);
}

#[test]
fn an_avro_table_on_a_topic_without_a_schema_registers_none() {
    if !pulsar_up() {
        return;
    }
    let namespace = Namespace::new(false);
    let topic = namespace.topic("plain");
    let dir = tempfile::tempdir().unwrap();
    let sql = write_sql(dir.path(), &topic, "name STRING, age INT NOT NULL");
    let out = flinkit(&[
        "produce",
        "--table",
        "users",
        "-f",
        &sql,
        "--value",
        r#"{"name":"a","age":1}"#,
    ]);
    assert_success(&out);
    assert_eq!(registered(&topic), None);
    let out = flinkit(&["consume", "--table", "users", "-f", &sql, "--timeout", "3s"]);
    assert_eq!(values(&out), [json!({"name": "a", "age": 1})]);
}
