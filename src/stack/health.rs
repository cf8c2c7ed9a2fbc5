//! Health checks, the same for every runtime: each asks the service the way a client would.
//!
//! - Kafka: a metadata request (librdkafka) lists at least one broker.
//! - Pulsar: `GET /admin/v2/clusters` answers, and a topic can be created (and is deleted again).
//! - Flink: `GET /overview` shows at least one TaskManager.
//! - SQL Gateway: `GET /v1/info` answers.
//! - PostgreSQL: `SELECT 1` runs in the database `flinkit` as the user `flinkit`, without a
//!   password.
//! - Schema Registry: its Confluent-compatible API answers `GET /subjects` with a list.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};
use serde_json::Value;

use super::secure::{KAFKA_MECHANISM, Secrets};
use super::{Service, Stack};

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `Ok` when the service is healthy, else why not. On the secure stack the checks trust its CA
/// and sign in as `admin`.
pub(crate) fn check(service: Service, stack: &Stack) -> Result<(), String> {
    let ports = stack.ports();
    let http = Http::new(stack.secrets(), service)?;
    match service {
        Service::Kafka => kafka(ports.kafka_port, stack.secrets()),
        Service::Pulsar => pulsar(&http, &stack.pulsar_admin()),
        Service::Flink => flink(&http, &stack.endpoint(Service::Flink)),
        Service::Gateway => gateway(&http, &stack.endpoint(Service::Gateway)),
        Service::Postgres => postgres(ports.postgres_port),
        Service::SchemaRegistry => schema_registry(&http, &ports.endpoint(Service::SchemaRegistry)),
    }
}

fn schema_registry(http: &Http, api: &str) -> Result<(), String> {
    let subjects = http.json(&format!("{api}/subjects"))?;
    if subjects.is_array() {
        Ok(())
    } else {
        Err(format!("GET {api}/subjects: not a list of subjects"))
    }
}

/// A blocking HTTP client (stack commands are not async) trusting the secure stack's CA, with
/// Pulsar's admin token when it asks Pulsar.
struct Http {
    client: reqwest::blocking::Client,
    token: Option<String>,
}

impl Http {
    fn new(secrets: Option<&Secrets>, service: Service) -> Result<Self, String> {
        let mut builder = reqwest::blocking::Client::builder().timeout(CHECK_TIMEOUT);
        let mut token = None;
        if let Some(secrets) = secrets {
            let pem = std::fs::read(secrets.ca())
                .map_err(|e| format!("the stack's CA {}: {e}", secrets.ca().display()))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| format!("the stack's CA {}: {e}", secrets.ca().display()))?;
            builder = builder.add_root_certificate(ca);
            if service == Service::Pulsar {
                token = Some(secrets.pulsar_token("admin").map_err(|e| e.to_string())?);
            }
        }
        let client = builder.build().map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { client, token })
    }

    /// The status and body of a request.
    fn request(&self, method: &str, url: &str) -> Result<(u16, String), String> {
        let mut request = match method {
            "PUT" => self.client.put(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.get(url),
        };
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!("{method} {url}: {e}{cause}")
        })?;
        let status = response.status().as_u16();
        let body = response.text().unwrap_or_default();
        Ok((status, body))
    }

    fn json(&self, url: &str) -> Result<serde_json::Value, String> {
        let (status, body) = self.request("GET", url)?;
        if status != 200 {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))
    }
}

fn kafka(port: u16, secrets: Option<&Secrets>) -> Result<(), String> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", format!("localhost:{port}"))
        .set("socket.timeout.ms", "3000")
        .set("log_level", "0");
    if let Some(secrets) = secrets {
        let password = secrets.kafka_password("admin").map_err(|e| e.to_string())?;
        config
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", KAFKA_MECHANISM)
            .set("sasl.username", "admin")
            .set("sasl.password", password)
            .set("ssl.ca.location", secrets.ca().display().to_string());
    }
    let producer: BaseProducer = config.create().map_err(|e| format!("Kafka client: {e}"))?;
    let metadata = producer
        .client()
        .fetch_metadata(None, CHECK_TIMEOUT)
        .map_err(|e| format!("Kafka metadata from localhost:{port}: {e}"))?;
    if metadata.brokers().is_empty() {
        return Err(format!("Kafka at localhost:{port} lists no broker"));
    }
    Ok(())
}

fn pulsar(http: &Http, admin: &str) -> Result<(), String> {
    let clusters = http.json(&format!("{admin}/admin/v2/clusters"))?;
    if clusters.as_array().is_none_or(Vec::is_empty) {
        return Err(format!("Pulsar at {admin} lists no cluster"));
    }
    let topic = format!(
        "{admin}/admin/v2/persistent/public/default/flinkit-health-{}",
        random_hex()
    );
    let (status, body) = http.request("PUT", &topic)?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "Pulsar at {admin} cannot create a topic yet: HTTP {status} {}",
            pulsar_reason(&body)
        ));
    }
    let _ = http.request("DELETE", &format!("{topic}?force=true"));
    Ok(())
}

/// The one line of a Pulsar admin error worth showing: its `reason`'s `Message:` (the broker puts
/// a Java stack trace after it), with what to do when the bookie stopped writing.
fn pulsar_reason(body: &str) -> String {
    let reason = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    let message = reason
        .lines()
        .find_map(|line| line.trim().strip_prefix("Message:"))
        .unwrap_or_else(|| reason.lines().find(|l| !l.trim().is_empty()).unwrap_or(""))
        .trim()
        .to_string();
    if message.contains("Not enough non-faulty bookies") {
        format!(
            "{message} (its bookie went read-only: BookKeeper stops writing when the disk holding \
             the stack's data is 99 % used; free space, then run `flinkit stack up`)"
        )
    } else {
        message
    }
}

fn flink(http: &Http, url: &str) -> Result<(), String> {
    let overview = http.json(&format!("{url}/overview"))?;
    match overview["taskmanagers"].as_u64() {
        Some(n) if n >= 1 => Ok(()),
        _ => Err(format!("Flink at {url} has no TaskManager yet")),
    }
}

/// The version the stack's Flink reports (`GET /overview`), asked as its health check asks.
pub(crate) fn flink_version(stack: &Stack) -> Result<String, String> {
    let url = stack.endpoint(Service::Flink);
    let overview = Http::new(stack.secrets(), Service::Flink)?.json(&format!("{url}/overview"))?;
    overview["flink-version"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("GET {url}/overview: no flink-version"))
}

fn gateway(http: &Http, url: &str) -> Result<(), String> {
    let info = http.json(&format!("{url}/v1/info"))?;
    if info["version"].is_string() {
        Ok(())
    } else {
        Err(format!("the SQL Gateway at {url} gave no version"))
    }
}

fn postgres(port: u16) -> Result<(), String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("localhost")
        .port(port)
        .user(super::postgres::DATABASE)
        .dbname(super::postgres::DATABASE)
        .connect_timeout(CHECK_TIMEOUT);
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("PostgreSQL check: {e}"))?
        .block_on(async {
            // Bounded as a whole: a server that accepts the connection and never answers (not
            // PostgreSQL, or a hung one) would hold the check forever.
            tokio::time::timeout(CHECK_TIMEOUT, async {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                let connection = tokio::spawn(connection);
                let answer = client.simple_query("SELECT 1").await;
                drop(client);
                let _ = connection.await;
                answer
            })
            .await
        });
    match answer {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("PostgreSQL at localhost:{port}: {e}")),
        Err(_) => Err(format!(
            "PostgreSQL at localhost:{port}: no answer in {}s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// 16 random hex digits (from the kernel; the time as a fallback).
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes = (nanos as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_listening_is_unhealthy_with_a_reason() {
        let ports = super::super::Ports {
            kafka_port: 1,
            pulsar_http_port: 1,
            flink_port: 1,
            gateway_port: 1,
            postgres_port: 1,
            schema_registry_port: 1,
            ..super::super::Ports::default()
        };
        let stack = Stack::new("/nonexistent", ports);
        for service in Service::ALL {
            let err = check(service, &stack).unwrap_err();
            assert!(err.contains("localhost:1"), "{service}: {err}");
        }
    }

    #[test]
    fn a_pulsar_error_is_its_message_line_without_the_java_trace() {
        let body = r#"{"reason":"\n --- An unexpected error occurred in the server ---\n\nMessage: org.apache.bookkeeper.mledger.ManagedLedgerException: Not enough non-faulty bookies available error code: -6\n\nStacktrace:\n\norg.apache.pulsar.broker.service.BrokerServiceException$PersistenceException: x\n\tat org.apache.pulsar.broker.service.BrokerService$2.openLedgerFailed(BrokerService.java:1905)\n"}"#;
        let reason = pulsar_reason(body);
        assert!(reason.starts_with("org.apache.bookkeeper.mledger.ManagedLedgerException: Not enough non-faulty bookies"), "{reason}");
        assert!(reason.contains("disk"), "{reason}");
        assert!(
            !reason.contains("Stacktrace") && !reason.contains("\tat "),
            "{reason}"
        );
        assert_eq!(
            pulsar_reason(r#"{"reason":"Namespace does not exist"}"#),
            "Namespace does not exist"
        );
        assert_eq!(pulsar_reason("Service Unavailable"), "Service Unavailable");
    }

    #[test]
    fn random_names_differ() {
        assert_ne!(random_hex(), random_hex());
        assert_eq!(random_hex().len(), 16);
    }
}
