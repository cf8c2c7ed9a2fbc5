//! A client of a Confluent-compatible Schema Registry (Confluent's own, or Apicurio's
//! `/apis/ccompat/v7`): registering a subject's schema and fetching schemas by id, each id
//! fetched once per process.
//!
//! Calls block. They run on a thread of their own, so a caller inside an async runtime (the
//! library's table-aware consumer) may make them too; they happen once per subject and once
//! per schema id, never per record.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// How long one registry request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a registry call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry did not answer (refused, timed out, not HTTP).
    #[error("the schema registry at {url} does not answer")]
    Unreachable {
        /// The registry's URL.
        url: String,
        /// The transport's error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error.
    #[error("the schema registry at {url} refused {what}: HTTP {status}: {message}")]
    Refused {
        /// The registry's URL.
        url: String,
        /// What was asked (`registering subject `s``, `schema id 7`).
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message.
        message: String,
    },
    /// The registry's answer is not what its API promises.
    #[error("the schema registry at {url} answered {what} with something unexpected: {message}")]
    Unexpected {
        /// The registry's URL.
        url: String,
        /// What was asked.
        what: String,
        /// What was wrong.
        message: String,
    },
    /// The table gives a schema of its own (`avro-confluent.schema`), which the bridge reads
    /// with but does not write.
    #[error(
        "'{option}' is set: Flink writes with that schema, and the bridge writes only the \
         schema Flink derives from the columns (reading the table works: each message is \
         decoded with its writer's schema from the registry); produce with a table without \
         the option, or with Flink"
    )]
    OwnSchema {
        /// The option (`value.avro-confluent.schema`, …).
        option: String,
    },
}

impl RegistryError {
    /// The HTTP status of a refusal.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the registry refused the request as invalid (an incompatible or malformed
    /// schema: HTTP 409 or 422), or the table's schema option cannot be written, as opposed to
    /// the registry not answering.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::OwnSchema { .. }) || matches!(self.http_status(), Some(409 | 422))
    }
}

/// A registry client: its URL, optional basic-auth `user:password`, and the schemas fetched.
#[derive(Clone)]
pub struct Registry {
    url: String,
    user_info: Option<String>,
    schemas: Arc<Mutex<HashMap<u32, Arc<String>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url)
            .field("user_info", &self.user_info.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.url == other.url && self.user_info == other.user_info
    }
}

impl Registry {
    /// A client of the registry at `url` (a trailing `/` is dropped); `user_info` is
    /// `user:password` for basic auth, never shown.
    pub fn new(url: &str, user_info: Option<String>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            user_info,
            schemas: Arc::default(),
        }
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Registers `schema` (Avro schema JSON) under `subject`, or finds it there already, and
    /// returns its id (`POST /subjects/{subject}/versions`, what Flink's serializer does).
    pub fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let what = format!("registering subject `{subject}`");
        let body = serde_json::json!({ "schema": schema });
        let answer = self.call(
            &what,
            reqwest::Method::POST,
            &format!("/subjects/{}/versions", encode_path(subject)),
            Some(body),
        )?;
        let id = answer
            .get("id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| self.unexpected(&what, format!("no schema id in {answer}")))?;
        self.schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, Arc::new(schema.to_string()));
        Ok(id)
    }

    /// The schema (Avro schema JSON) with id `id` (`GET /schemas/ids/{id}`), fetched once.
    pub fn schema(&self, id: u32) -> Result<Arc<String>, RegistryError> {
        if let Some(schema) = self
            .schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
        {
            return Ok(schema.clone());
        }
        let what = format!("schema id {id}");
        let answer = self.call(
            &what,
            reqwest::Method::GET,
            &format!("/schemas/ids/{id}"),
            None,
        )?;
        let schema = answer
            .get("schema")
            .and_then(Value::as_str)
            .ok_or_else(|| self.unexpected(&what, format!("no schema in {answer}")))?;
        let schema = Arc::new(schema.to_string());
        self.schemas
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, schema.clone());
        Ok(schema)
    }

    /// Checks that the registry answers (`GET /subjects`).
    pub fn ping(&self) -> Result<(), RegistryError> {
        self.call(
            "the list of subjects",
            reqwest::Method::GET,
            "/subjects",
            None,
        )
        .map(drop)
    }

    fn unexpected(&self, what: &str, message: String) -> RegistryError {
        RegistryError::Unexpected {
            url: self.url.clone(),
            what: what.into(),
            message,
        }
    }

    /// One request on a thread of its own (reqwest's blocking client may not run on an async
    /// runtime's thread).
    fn call(
        &self,
        what: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, RegistryError> {
        let url = format!("{}{path}", self.url);
        let user_info = self.user_info.clone();
        let outcome = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(TIMEOUT)
                        .build()?;
                    let mut request = client
                        .request(method, &url)
                        .header("Accept", "application/vnd.schemaregistry.v1+json");
                    if let Some(info) = &user_info {
                        let (user, password) = info.split_once(':').unwrap_or((info, ""));
                        request = request.basic_auth(user, Some(password));
                    }
                    if let Some(body) = body {
                        request = request
                            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                            .body(body.to_string());
                    }
                    let response = request.send()?;
                    let status = response.status().as_u16();
                    let text = response.text()?;
                    Ok::<_, reqwest::Error>((status, text))
                })
                .join()
        });
        let (status, text) = match outcome {
            Ok(Ok(answer)) => answer,
            Ok(Err(source)) => {
                return Err(RegistryError::Unreachable {
                    url: self.url.clone(),
                    source,
                });
            }
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            let message = answer
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| answer.to_string(), String::from);
            return Err(RegistryError::Refused {
                url: self.url.clone(),
                what: what.into(),
                status,
                message,
            });
        }
        Ok(answer)
    }
}

/// A subject as one URL path segment.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_path_segment() {
        assert_eq!(encode_path("orders-value"), "orders-value");
        assert_eq!(encode_path("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn a_registry_that_does_not_answer_is_named() {
        let registry = Registry::new("http://127.0.0.1:9/", Some("me:secret".into()));
        let err = registry.register("t-value", "\"string\"").unwrap_err();
        assert!(matches!(err, RegistryError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("http://127.0.0.1:9 "), "{err}");
        assert!(!format!("{registry:?}").contains("secret"));
    }
}
