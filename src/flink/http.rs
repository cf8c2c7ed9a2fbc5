//! The one HTTP client of the Flink services (JobManager REST API and SQL Gateway): async on
//! reqwest, 5 s to connect, a deadline per call, JSON answers deserialized into the caller's
//! typed structs, Flink's error bodies turned into their root cause, and idempotent requests
//! retried with exponential backoff (backon) on refused connections and 502/503/504 answers.
//!
//! A service behind TLS with a private CA, or behind an ingress asking for credentials, is
//! reached with what the environment says (never a command-line flag, which would land in the
//! shell's history), per service — `FLINK` for the JobManager, `GATEWAY` for the SQL Gateway:
//!
//! | variable | meaning |
//! |---|---|
//! | `FLINKIT_FLINK_CA_FILE` | PEM certificates trusted besides the system's (Mozilla's) roots |
//! | `FLINKIT_FLINK_TOKEN_FILE`, `FLINKIT_FLINK_TOKEN` | a bearer token (`Authorization: Bearer …`) |
//! | `FLINKIT_FLINK_USER` with `FLINKIT_FLINK_PASSWORD_FILE` or `FLINKIT_FLINK_PASSWORD` | basic authentication |

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

impl Service {
    /// The word in its variables' names (`FLINKIT_FLINK_CA_FILE`, `FLINKIT_GATEWAY_CA_FILE`).
    pub fn variable(self) -> &'static str {
        match self {
            Self::Rest => "FLINK",
            Self::Gateway => "GATEWAY",
        }
    }
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
    /// The service's TLS certificate is not trusted.
    #[error(
        "{service} at {url}: its TLS certificate is not trusted ({detail}); set \
         FLINKIT_{}_CA_FILE to the PEM file of the CA that signed it",
        service.variable()
    )]
    Untrusted {
        /// The service.
        service: Service,
        /// The base URL.
        url: String,
        /// What the TLS library said.
        detail: String,
    },
    /// The service (or the ingress in front of it) refused the credentials, or there were none.
    #[error(
        "{service} at {url} refused {} (HTTP {status}); set FLINKIT_{var}_TOKEN_FILE, or \
         FLINKIT_{var}_USER and FLINKIT_{var}_PASSWORD_FILE",
        if *sent { "the credentials" } else { "a request without credentials" },
        var = service.variable()
    )]
    Refused {
        /// The service.
        service: Service,
        /// The request URL.
        url: String,
        /// 401 or 403.
        status: u16,
        /// Whether credentials were sent.
        sent: bool,
    },
    /// The credentials or CA named by the environment cannot be read.
    #[error("{service}: {message}")]
    Access {
        /// The service.
        service: Service,
        /// What is wrong (a variable and its file; never a secret).
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
            Self::Status { status, .. } | Self::Refused { status, .. } => Some(*status),
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
    auth: Option<Auth>,
    /// Why the environment's CA or credentials could not be used: every call fails with it.
    setup: Option<String>,
}

/// Credentials sent with every request.
#[derive(Clone)]
enum Auth {
    Bearer(String),
    Basic(String, String),
}

impl fmt::Debug for Auth {
    /// Never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Bearer(_) => "Bearer(…)",
            Self::Basic(..) => "Basic(…)",
        })
    }
}

/// What the environment says about reaching `service`: the CA certificates (PEM) and the
/// credentials (see the module's table).
fn access(service: Service) -> Result<(Option<Vec<u8>>, Option<Auth>), String> {
    let var = |name: &str| {
        let name = format!("FLINKIT_{}_{name}", service.variable());
        let value = std::env::var(&name).ok().filter(|v| !v.is_empty());
        (name, value)
    };
    let read = |name: &str, path: &str| {
        std::fs::read(path).map_err(|e| format!("{name}: cannot read {path}: {e}"))
    };
    let secret = |name: &str| -> Result<Option<String>, String> {
        let (file_var, file) = var(&format!("{name}_FILE"));
        if let Some(path) = file {
            let bytes = read(&file_var, &path)?;
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() {
                return Err(format!("{file_var}: {path} is empty"));
            }
            return Ok(Some(text));
        }
        Ok(var(name).1)
    };
    let ca = match var("CA_FILE") {
        (name, Some(path)) => {
            let pem = read(&name, &path)?;
            reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| format!("{name}: {path} holds no PEM certificate"))?;
            Some(pem)
        }
        (_, None) => None,
    };
    let auth = if let Some(token) = secret("TOKEN")? {
        Some(Auth::Bearer(token))
    } else if let (_, Some(user)) = var("USER") {
        let password = secret("PASSWORD")?.ok_or_else(|| {
            let var = service.variable();
            format!("FLINKIT_{var}_USER is set but neither FLINKIT_{var}_PASSWORD_FILE nor FLINKIT_{var}_PASSWORD")
        })?;
        Some(Auth::Basic(user, password))
    } else {
        None
    };
    Ok((ca, auth))
}

/// `base` without the user and password it may carry (`https://user:secret@flink:8081`), and
/// those as basic authentication: they are sent as reqwest would send them, and the address
/// every message and progress line shows holds no secret. Variables' credentials win.
fn without_credentials(base: &str) -> (String, Option<Auth>) {
    let trimmed = base.trim_end_matches('/');
    let Ok(mut url) = reqwest::Url::parse(trimmed) else {
        return (trimmed.to_string(), None);
    };
    if url.username().is_empty() && url.password().is_none() {
        return (trimmed.to_string(), None);
    }
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let auth = Auth::Basic(
        decode(url.username()),
        decode(url.password().unwrap_or_default()),
    );
    // Both only fail for URLs that cannot have a host, which `parse` left with credentials.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (url.as_str().trim_end_matches('/').to_string(), Some(auth))
}

/// `url` as messages and logs show it: without the credentials it may carry.
pub(crate) fn shown(url: &str) -> String {
    without_credentials(url).0
}

/// Whether a transport error is a certificate the client does not trust.
fn untrusted(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(err) = source {
        let text = err.to_string();
        if text.contains("certificate") {
            return Some(text);
        }
        source = err.source();
    }
    None
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
    /// The CA and credentials come from the environment (see the module's documentation).
    pub(crate) fn new(service: Service, base: &str, deadline: Duration) -> Self {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(deadline);
        let (base, in_url) = without_credentials(base);
        let (auth, setup) = match access(service) {
            Ok((ca, auth)) => {
                let auth = auth.or(in_url);
                let certs = ca
                    .map(|pem| reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default())
                    .unwrap_or_default();
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
                (auth, None)
            }
            Err(message) => (None, Some(message)),
        };
        Self {
            service,
            base,
            client: builder.build().unwrap_or_default(),
            deadline,
            auth,
            setup,
        }
    }

    /// A request with the credentials.
    fn request(&self, method: Method, url: String) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        match &self.auth {
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            Some(Auth::Basic(user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }

    /// The environment's CA or credentials that could not be used, as the error of a call.
    fn setup_error(&self) -> Result<(), HttpError> {
        match &self.setup {
            Some(message) => Err(HttpError::Access {
                service: self.service,
                message: message.clone(),
            }),
            None => Ok(()),
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
        self.setup_error()?;
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
                    (err.is_connect() || err.is_request())
                        && untrusted(err).is_none()
                        && started.elapsed() < CONNECT_RETRY
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
        self.setup_error()?;
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
        self.setup_error()?;
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
        self.setup_error()?;
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name)
            .mime_str("application/x-java-archive")
            .map_err(|e| self.fail(Attempt::Transport(e)))?;
        let form = reqwest::multipart::Form::new().part(field, part);
        let request = self.request(Method::POST, self.url(path)).multipart(form);
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
        let mut request = self.request(method, self.url(path));
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
        if matches!(status.as_u16(), 401 | 403) && !text.trim_start().starts_with("{\"errors\"") {
            // Flink answers its own errors as `{"errors": […]}`; a bare 401/403 is the ingress.
            return Err(Attempt::Final(HttpError::Refused {
                service: self.service,
                url: self.url(path),
                status: status.as_u16(),
                sent: self.auth.is_some(),
            }));
        }
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
            Attempt::Transport(source) => match untrusted(&source) {
                Some(detail) => HttpError::Untrusted {
                    service: self.service,
                    url: self.base.clone(),
                    detail,
                },
                None => HttpError::Unreachable {
                    service: self.service,
                    url: self.base.clone(),
                    source,
                },
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
    let lines: Vec<&str> = text.lines().collect();
    let (start, first) = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| Some((i, line.trim().strip_prefix("Caused by: ")?)))
        .next_back()
        .unwrap_or((0, lines.first().map_or("", |line| line.trim())));
    // A message of several lines (`Either all or none of the following options should be
    // provided:` and the options, one a line) goes on until the stack frames (20 lines at most;
    // a parse error's list of the tokens it expected is left out).
    let rest = lines[start + 1..]
        .iter()
        .map(|line| line.trim())
        .take_while(|line| {
            !(line.starts_with("at ")
                || line.starts_with("Caused by: ")
                || line.starts_with("...")
                || line.starts_with("Was expecting"))
        })
        .filter(|line| !line.is_empty())
        .take(20);
    let message = std::iter::once(first.trim())
        .chain(rest)
        .collect::<Vec<_>>()
        .join(" ");
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
        let all_or_none = r#"{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat org.apache.flink.Foo.bar(Foo.java:1)\nCaused by: org.apache.flink.table.api.ValidationException: Either all or none of the following options should be provided:\nusername\npassword\n\tat org.apache.flink.Baz.qux(Baz.java:2)\n\t... 12 more"]}"#;
        assert_eq!(
            error_text(all_or_none),
            "Either all or none of the following options should be provided: username password"
        );
        let parse = "SQL parse failed. Encountered \"out\" at line 1, column 14.\nWas expecting one of:\n    <IDENTIFIER> ...\n    <QUOTED_IDENTIFIER> ...";
        assert_eq!(
            error_text(parse),
            "SQL parse failed. Encountered \"out\" at line 1, column 14."
        );
    }

    #[tokio::test]
    async fn credentials_in_the_address_are_sent_and_never_shown() {
        let (base, auth) = without_credentials("https://ops:s%40cret@flink.example.com:8443/api/");
        assert_eq!(base, "https://flink.example.com:8443/api");
        assert!(
            matches!(auth, Some(Auth::Basic(user, password)) if user == "ops" && password == "s@cret")
        );
        let (plain, none) = without_credentials("http://localhost:8081/");
        assert_eq!(plain, "http://localhost:8081");
        assert!(none.is_none());
        let http = Http::new(
            Service::Rest,
            "http://ops:s3cret@127.0.0.1:9",
            Duration::from_secs(30),
        );
        let err = http.get::<Value>("/overview").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot reach Flink's REST API at http://127.0.0.1:9"
        );
        assert!(!format!("{err:?} {http:?}").contains("s3cret"));
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
