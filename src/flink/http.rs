//! The one HTTP client of the Flink services (JobManager REST API and SQL Gateway): async on
//! reqwest, 5 s to connect, a deadline per call, JSON answers deserialized into the caller's
//! typed structs, Flink's error bodies turned into their root cause, and idempotent requests
//! retried with exponential backoff (backon) on refused connections and 502/503/504 answers.

use std::fmt;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Which Flink service a client talks to (named in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The JobManager's REST API.
    Rest,
    /// The SQL Gateway's REST API.
    Gateway,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rest => "Flink's REST API",
            Self::Gateway => "the SQL Gateway",
        })
    }
}

/// Why an HTTP call to a Flink service failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Nothing answers at the URL (refused, timed out, bad address).
    #[error("cannot reach {service} at {url}")]
    Unreachable {
        /// The service.
        service: Service,
        /// The base URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The service answered with an error status.
    #[error("{service} at {url} answered {status}: {message}")]
    Status {
        /// The service.
        service: Service,
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The service's root cause, without the Java stack.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from {url}: {message}")]
    Protocol {
        /// The request URL.
        url: String,
        /// What was wrong.
        message: String,
    },
}

impl HttpError {
    /// The HTTP status, when the service answered with an error.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The service's own message, when it answered with an error.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether nothing answered at the address.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// A client of one service at one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    service: Service,
    base: String,
    client: reqwest::Client,
    deadline: Duration,
}

const TRANSIENT: [StatusCode; 3] = [
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];

/// How long a refused connection is retried: a service that is not there fails fast.
const CONNECT_RETRY: Duration = Duration::from_secs(3);

/// One failed attempt, before it becomes an [`HttpError`]: whether to retry it.
enum Attempt {
    Transport(reqwest::Error),
    Transient(HttpError),
    Final(HttpError),
}

impl Http {
    /// A client for `base` (`http://localhost:8081`); each call gives up after `deadline`.
    pub(crate) fn new(service: Service, base: &str, deadline: Duration) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(deadline)
            .build()
            .unwrap_or_default();
        Self {
            service,
            base: base.trim_end_matches('/').to_string(),
            client,
            deadline,
        }
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The full URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` as `T`, retrying refused connections (for up to 3 s) and 502/503/504
    /// answers (until the deadline) with exponential backoff.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, HttpError> {
        let started = Instant::now();
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(2))
            .without_max_times()
            .with_total_delay(Some(self.deadline));
        let answer = (|| self.attempt(Method::GET, path, None::<&Value>))
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|attempt| match attempt {
                Attempt::Transport(err) => {
                    (err.is_connect() || err.is_request()) && started.elapsed() < CONNECT_RETRY
                }
                Attempt::Transient(_) => started.elapsed() < self.deadline,
                Attempt::Final(_) => false,
            })
            .await;
        match answer {
            Ok(text) => self.decode(path, &text),
            Err(attempt) => Err(self.fail(attempt)),
        }
    }

    /// Sends `method` to `path` once (with `body` as JSON), and reads the answer as `T`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, HttpError> {
        match self.attempt(method, path, body).await {
            Ok(text) => self.decode(path, &text),
            Err(attempt) => Err(self.fail(attempt)),
        }
    }

    /// Sends `method` to `path` once and ignores the answer's body.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<(), HttpError> {
        self.attempt(method, path, body)
            .await
            .map(drop)
            .map_err(|attempt| self.fail(attempt))
    }

    /// Uploads `bytes` as the multipart form field `field` named `file_name`.
    pub(crate) async fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        field: &'static str,
        file_name: String,
        bytes: Vec<u8>,
    ) -> Result<T, HttpError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name)
            .mime_str("application/x-java-archive")
            .map_err(|e| self.fail(Attempt::Transport(e)))?;
        let form = reqwest::multipart::Form::new().part(field, part);
        let request = self.client.post(self.url(path)).multipart(form);
        let text = self
            .finish(path, request.send().await)
            .await
            .map_err(|a| self.fail(a))?;
        self.decode(path, &text)
    }

    async fn attempt(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<String, Attempt> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.finish(path, request.send().await).await
    }

    async fn finish(
        &self,
        path: &str,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<String, Attempt> {
        let response = sent.map_err(Attempt::Transport)?;
        let status = response.status();
        let text = response.text().await.map_err(Attempt::Transport)?;
        if status.is_client_error() || status.is_server_error() {
            let error = HttpError::Status {
                service: self.service,
                url: self.url(path),
                status: status.as_u16(),
                message: error_text(&text),
            };
            return Err(if TRANSIENT.contains(&status) {
                Attempt::Transient(error)
            } else {
                Attempt::Final(error)
            });
        }
        Ok(text)
    }

    fn fail(&self, attempt: Attempt) -> HttpError {
        match attempt {
            Attempt::Transport(source) => HttpError::Unreachable {
                service: self.service,
                url: self.base.clone(),
                source,
            },
            Attempt::Transient(err) | Attempt::Final(err) => err,
        }
    }

    fn decode<T: DeserializeOwned>(&self, path: &str, text: &str) -> Result<T, HttpError> {
        let text = if text.trim().is_empty() { "null" } else { text };
        serde_json::from_str(text).map_err(|e| HttpError::Protocol {
            url: self.url(path),
            message: format!("{e} in {}", abbreviate(text)),
        })
    }
}

/// The first 200 characters of an answer, for error messages.
fn abbreviate(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The useful part of a Flink error: the deepest `Caused by:` message (or the first line),
/// without the Java stack frames and without the exception's class name.
pub fn error_text(raw: &str) -> String {
    let text = serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| {
            v["errors"].as_array().map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_else(|| raw.to_string());
    let mut message = text.lines().next().unwrap_or_default().trim().to_string();
    for line in text.lines() {
        if let Some(cause) = line.trim().strip_prefix("Caused by: ") {
            message = cause.to_string();
        }
    }
    message
        .split_once(": ")
        .filter(|(class, _)| class.contains('.') && !class.contains(' '))
        .map_or(message.clone(), |(_, rest)| rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_keeps_the_root_cause_only() {
        let raw = r#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.Foo.bar(Foo.java:1)\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: statement 2: Column 'x' not found in any table\n\tat org.apache...\nCaused by: java.lang.IllegalStateException: statement 2: Column 'x' not found in any table\n\tat dev.flinkit..."]}"#;
        assert_eq!(
            error_text(raw),
            "statement 2: Column 'x' not found in any table"
        );
        assert_eq!(error_text("plain"), "plain");
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable_and_fails_fast() {
        let http = Http::new(
            Service::Rest,
            "http://127.0.0.1:9/",
            Duration::from_secs(30),
        );
        let started = Instant::now();
        let err = http.get::<Value>("/overview").await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        assert_eq!(
            err.to_string(),
            "cannot reach Flink's REST API at http://127.0.0.1:9"
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{:?}",
            started.elapsed()
        );
    }
}
