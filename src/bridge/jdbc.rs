//! The JDBC transport: the rows of a PostgreSQL table behind a `'connector' = 'jdbc'` table,
//! written and read with tokio-postgres, as Flink's JDBC connector writes and reads them.
//!
//! A JDBC table's records are its rows in the bridge's JSON encoding (the table has no format
//! of its own): the value is the row as an object of its columns, the key the primary key's
//! columns. So the record checks, the input shapes, generated data and the upsert view are the
//! topics' own; this module only turns records into statements and rows into records.
//!
//! - **Writing** ([`JdbcProducer`]) runs every record of a run in **one transaction**,
//!   committed by [`Producer::flush`], its statements sent 256 at a time (pipelined): a row the database refuses (a data exception or an
//!   integrity violation: too long, out of range, NOT NULL, a foreign key) fails the run with
//!   its line and rolls everything back, so nothing is half-written. With a primary key a row
//!   is an upsert (`INSERT … ON CONFLICT (key) DO UPDATE`), and a tombstone a `DELETE` by key;
//!   without one, a plain `INSERT` (Flink's append mode). A caller that waits for
//!   acknowledgements between records ([`Producer::poll`] with a timeout: a paced `--rate`
//!   run's pauses, the async [`client`](super::client)'s idle moments) commits what it sent so
//!   far, so a delivery is a commit. Values travel as text cast to the
//!   database column's own type, so PostgreSQL's input rules decide (`DECIMAL` keeps every
//!   digit; `BYTES`, base64 in JSON, is decoded into `bytea`).
//! - **Reading** ([`JdbcConsumer`]) runs one `SELECT` of the table's columns (ordered by the
//!   primary key) and turns each row into the JSON Flink's formats use: numbers and booleans
//!   as JSON, `TIMESTAMP` as `yyyy-MM-dd HH:mm:ss[.fff]`, `TIMESTAMP_LTZ` in UTC with a `Z`,
//!   `BYTES` as base64.
//!
//! TLS is rustls (no OpenSSL): `sslmode=require`, `verify-ca` or `verify-full` (or `ssl=true`)
//! in the URL encrypts and verifies the server's certificate and host name against the Mozilla
//! roots, or against the PEM certificates of `sslrootcert=PATH` — stricter than libpq's
//! `require`, which does not verify. `disable`, `allow` and `prefer` connect without TLS.
//!
//! Identifiers are written as Flink's PostgreSQL dialect writes them — unquoted, so
//! PostgreSQL folds them to lower case — unless they are not plain identifiers, which are
//! quoted. `table-name` may name a schema (`inventory.items`). Sessions use UTC.
//!
//! The endpoint is the table's `url` (`jdbc:postgresql://host:port/database?…`) with the
//! `username` and `password` options as settings; the password (also a `password=` in the URL)
//! is never printed: [`shown_url`] masks it.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, RowStream, Socket, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::input::InputError;
use super::table::TableSpec;
use super::types::TypeKind;
use super::{
    Ack, BridgeError, Broker, ConsumeOptions, Consumer, Endpoint, InRecord, Next, OutRecord,
    Position, Producer, StartAt,
};

/// The settings a JDBC endpoint takes (the table's options of the same names).
pub const SETTINGS: [&str; 2] = ["username", "password"];

/// The URL with a `password=` parameter's value masked, to show in messages.
pub fn shown_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_string(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

/// How a connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tls {
    /// Plain TCP.
    Off,
    /// TLS, the server verified against the Mozilla roots, or these PEM files' certificates.
    Verified { roots: Option<String> },
}

/// The connection settings of a JDBC URL and the endpoint's `username`/`password`.
fn config(endpoint: &Endpoint, timeout: Duration) -> Result<(Config, Tls), BridgeError> {
    let url = &endpoint.address;
    let setting = |message: String| BridgeError::Setting {
        key: "url".into(),
        message,
    };
    let rest = url.strip_prefix("jdbc:postgresql://").ok_or_else(|| {
        setting(format!(
            "`{}`: the bridge reaches PostgreSQL, with a URL like \
             jdbc:postgresql://localhost:5432/flinkit",
            shown_url(url)
        ))
    })?;
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, database) = location.split_once('/').unwrap_or((location, ""));
    let mut config = Config::new();
    let mut tls = Tls::Off;
    let mut roots = None;
    for host in hosts.split(',').filter(|h| !h.is_empty()) {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(']') || host.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| {
                    setting(format!(
                        "`{}`: the port `{port}` is not a number",
                        shown_url(url)
                    ))
                })?;
                (name, port)
            }
            _ => (host, 5432),
        };
        config
            .host(name.trim_start_matches('[').trim_end_matches(']'))
            .port(port);
    }
    if hosts.is_empty() {
        config.host("localhost").port(5432);
    }
    if !database.is_empty() {
        config.dbname(database);
    }
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match key {
            "user" => {
                config.user(value);
            }
            "password" => {
                config.password(value);
            }
            "ApplicationName" => {
                config.application_name(value);
            }
            "currentSchema" => {
                config.options(format!("-c search_path={value}"));
            }
            "sslmode" if matches!(value, "disable" | "allow" | "prefer") => tls = Tls::Off,
            "sslmode" if matches!(value, "require" | "verify-ca" | "verify-full") => {
                tls = Tls::Verified { roots: None };
            }
            "ssl" if value == "true" => tls = Tls::Verified { roots: None },
            "ssl" if value == "false" => tls = Tls::Off,
            "sslmode" | "ssl" => {
                return Err(setting(format!(
                    "{key}={value}: expected sslmode=disable|allow|prefer|require|verify-ca|\
                     verify-full, or ssl=true|false"
                )));
            }
            "sslrootcert" => roots = Some(value.to_string()),
            other => tracing::debug!(
                parameter = other,
                "JDBC URL parameter not used by the bridge"
            ),
        }
    }
    for (key, value) in &endpoint.settings {
        match key.as_str() {
            "username" => {
                config.user(value);
            }
            "password" => {
                config.password(value);
            }
            other => {
                return Err(BridgeError::Setting {
                    key: other.to_string(),
                    message: format!("a JDBC endpoint takes {}", SETTINGS.join(" and ")),
                });
            }
        }
    }
    config.connect_timeout(timeout);
    if let Tls::Verified { .. } = tls {
        config.ssl_mode(SslMode::Require);
        tls = Tls::Verified { roots };
    }
    Ok((config, tls))
}

/// A rustls connector (ring) trusting `roots` (PEM files), else the Mozilla roots.
fn connector(roots: Option<&str>) -> Result<MakeRustlsConnect, BridgeError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let setting = |message: String| BridgeError::Setting {
        key: "sslrootcert".into(),
        message,
    };
    let mut store = rustls::RootCertStore::empty();
    match roots {
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| setting(format!("{path}: {e}")))?;
            let (added, _) = store.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(setting(format!("{path} holds no usable certificate")));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| BridgeError::client_caused(Broker::Jdbc, "setting up TLS", e))?
    .with_root_certificates(store)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Connects with `tls`, the connection driven by a task of the runtime.
async fn connect<T>(config: &Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// A connected session (UTC, ISO dates) and the runtime driving it.
struct Session {
    runtime: Runtime,
    client: Client,
    url: String,
}

impl Session {
    fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Self, BridgeError> {
        let (config, tls) = config(endpoint, timeout)?;
        let url = shown_url(&endpoint.address);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| BridgeError::client_caused(Broker::Jdbc, "starting a runtime", e))?;
        let unreachable = |detail: String| BridgeError::Unreachable {
            broker: Broker::Jdbc,
            endpoint: url.clone(),
            timeout,
            detail,
        };
        let connected = match tls {
            Tls::Off => runtime
                .block_on(async { tokio::time::timeout(timeout, connect(&config, NoTls)).await }),
            Tls::Verified { roots } => {
                let tls = connector(roots.as_deref())?;
                runtime
                    .block_on(async { tokio::time::timeout(timeout, connect(&config, tls)).await })
            }
        };
        let client = match connected {
            Err(_) => return Err(unreachable("no answer".into())),
            // Nothing listens, or the network failed: the database is down.
            Ok(Err(e))
                if std::error::Error::source(&e).is_some_and(|c| c.is::<std::io::Error>()) =>
            {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                return Err(unreachable(format!("{e}{cause}")));
            }
            // It answered and refused: a login, a database, TLS.
            Ok(Err(e)) => {
                return Err(BridgeError::client_caused(
                    Broker::Jdbc,
                    format!("connecting to {url}"),
                    e,
                ));
            }
            Ok(Ok(client)) => client,
        };
        let session = Self {
            runtime,
            client,
            url,
        };
        session.run(
            session
                .client
                .batch_execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'"),
            "setting the session's time zone",
        )?;
        Ok(session)
    }

    fn run<T>(
        &self,
        future: impl Future<Output = Result<T, tokio_postgres::Error>>,
        doing: &str,
    ) -> Result<T, BridgeError> {
        self.runtime.block_on(future).map_err(|e| {
            BridgeError::client_caused(Broker::Jdbc, format!("{doing} at {}", self.url), e)
        })
    }

    /// The database table's columns and their types, or a clear error when it is missing.
    fn describe(&self, table: &str) -> Result<Vec<(String, Type)>, BridgeError> {
        let statement = self
            .runtime
            .block_on(
                self.client
                    .prepare(&format!("SELECT * FROM {} LIMIT 0", sql_name(table))),
            )
            .map_err(|e| {
                if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
                    BridgeError::client_caused(
                        Broker::Jdbc,
                        format!(
                            "table `{table}` does not exist in the database at {} (create it, \
                             or fix 'table-name')",
                            self.url
                        ),
                        e,
                    )
                } else {
                    BridgeError::client_caused(
                        Broker::Jdbc,
                        format!("reading table `{table}` at {}", self.url),
                        e,
                    )
                }
            })?;
        Ok(statement
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().clone()))
            .collect())
    }
}

/// Whether `name` is a plain SQL identifier, which PostgreSQL (and Flink's dialect) writes
/// unquoted, folded to lower case.
fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A column as a statement names it.
fn sql_ident(name: &str) -> String {
    if is_plain(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `table-name` as a statement names it: each dot-separated part on its own.
fn sql_name(table: &str) -> String {
    table
        .split('.')
        .map(sql_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// The name PostgreSQL gives a column named `name` in a statement.
fn folded(name: &str) -> String {
    if is_plain(name) {
        name.to_ascii_lowercase()
    } else {
        name.to_string()
    }
}

/// The parameter of a value of a column of type `ty`: text cast to the type (bytea from
/// base64).
fn placeholder(n: usize, ty: &Type) -> String {
    if *ty == Type::BYTEA {
        return format!("decode(${n}, 'base64')");
    }
    let name = if ty.schema() == "pg_catalog" {
        ty.name().to_string()
    } else {
        format!("{}.{}", sql_ident(ty.schema()), sql_ident(ty.name()))
    };
    format!("CAST(${n} AS {name})")
}

/// A JSON value as the text PostgreSQL reads for it; `None` for NULL.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// What a statement does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Write {
    /// Insert (with `keys`: upsert on them) these columns.
    Insert {
        columns: Vec<String>,
        keys: Vec<String>,
    },
    /// Delete the row with these key columns.
    Delete { keys: Vec<String> },
}

/// Writes records into a database table in one transaction per run (see the module docs).
pub struct JdbcProducer {
    session: Session,
    table: String,
    columns: Vec<(String, Type)>,
    statements: HashMap<Write, Statement>,
    in_transaction: bool,
    /// Statements queued to be sent together, with their records' numbers.
    batch: Vec<(u64, Statement, Vec<Option<String>>)>,
    /// Records sent in the open transaction, acknowledged when it commits.
    pending: Vec<u64>,
    /// Why the open transaction is rolled back (a refused row, a failed write).
    aborted: Option<String>,
}

/// How many statements are sent together (pipelined) before their answers are awaited.
const PIPELINE: usize = 256;

impl JdbcProducer {
    /// Connects to the endpoint's database and checks that `table` (its `table-name`) exists.
    pub fn new(endpoint: &Endpoint, table: &str, timeout: Duration) -> Result<Self, BridgeError> {
        let session = Session::open(endpoint, timeout)?;
        let columns = session.describe(table)?;
        Ok(Self {
            session,
            table: table.to_string(),
            columns,
            statements: HashMap::new(),
            in_transaction: false,
            batch: Vec::new(),
            pending: Vec::new(),
            aborted: None,
        })
    }

    fn column_type(&self, column: &str) -> Result<&Type, BridgeError> {
        let name = folded(column);
        self.columns
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, ty)| ty)
            .ok_or_else(|| {
                let have: Vec<&str> = self.columns.iter().map(|(c, _)| c.as_str()).collect();
                BridgeError::client(
                    Broker::Jdbc,
                    format!(
                        "table `{}` at {} has no column `{name}` (it has {})",
                        self.table,
                        self.session.url,
                        have.join(", ")
                    ),
                )
            })
    }

    fn statement(&mut self, write: &Write) -> Result<Statement, BridgeError> {
        if let Some(statement) = self.statements.get(write) {
            return Ok(statement.clone());
        }
        let table = sql_name(&self.table);
        let sql = match write {
            Write::Insert { columns, keys } => {
                let mut values = Vec::new();
                for (i, column) in columns.iter().enumerate() {
                    values.push(placeholder(i + 1, self.column_type(column)?));
                }
                let names: Vec<String> = columns.iter().map(|c| sql_ident(c)).collect();
                let mut sql = format!(
                    "INSERT INTO {table} ({}) VALUES ({})",
                    names.join(", "),
                    values.join(", ")
                );
                if !keys.is_empty() {
                    let keys: Vec<String> = keys.iter().map(|c| sql_ident(c)).collect();
                    let updates: Vec<String> = names
                        .iter()
                        .filter(|c| !keys.contains(c))
                        .map(|c| format!("{c} = EXCLUDED.{c}"))
                        .collect();
                    sql.push_str(&format!(" ON CONFLICT ({}) DO ", keys.join(", ")));
                    if updates.is_empty() {
                        sql.push_str("NOTHING");
                    } else {
                        sql.push_str(&format!("UPDATE SET {}", updates.join(", ")));
                    }
                }
                sql
            }
            Write::Delete { keys } => {
                let mut conditions = Vec::new();
                for (i, key) in keys.iter().enumerate() {
                    let value = placeholder(i + 1, self.column_type(key)?);
                    conditions.push(format!("{} = {value}", sql_ident(key)));
                }
                format!("DELETE FROM {table} WHERE {}", conditions.join(" AND "))
            }
        };
        let count = match write {
            Write::Insert { columns, .. } => columns.len(),
            Write::Delete { keys } => keys.len(),
        };
        let types = vec![Type::TEXT; count];
        let statement = self.session.run(
            self.session.client.prepare_typed(&sql, &types),
            &format!("preparing a write to table `{}`", self.table),
        )?;
        self.statements.insert(write.clone(), statement.clone());
        Ok(statement)
    }

    /// The statement and parameters of one record.
    fn plan(
        &mut self,
        record: &OutRecord,
    ) -> Result<(Statement, Vec<Option<String>>), BridgeError> {
        let object = |bytes: &[u8], what: &str| -> Result<Map<String, Value>, BridgeError> {
            serde_json::from_slice(bytes).map_err(|e| {
                BridgeError::client(
                    Broker::Jdbc,
                    format!("a JDBC record's {what} is a JSON object of columns: {e}"),
                )
            })
        };
        let key = record
            .key
            .as_deref()
            .map(|k| object(k, "key"))
            .transpose()?
            .unwrap_or_default();
        let keys: Vec<String> = key.keys().cloned().collect();
        match &record.value {
            Some(value) => {
                let row = object(value, "value")?;
                let columns: Vec<String> = row.keys().cloned().collect();
                let statement = self.statement(&Write::Insert { columns, keys })?;
                Ok((statement, row.values().map(text).collect()))
            }
            None if keys.is_empty() => Err(BridgeError::client(
                Broker::Jdbc,
                format!(
                    "a delete needs the key of table `{}`: declare its PRIMARY KEY",
                    self.table
                ),
            )),
            None => {
                let statement = self.statement(&Write::Delete { keys })?;
                Ok((statement, key.values().map(text).collect()))
            }
        }
    }
}

/// Whether the database refused a row for its values (SQLSTATE class 22, data exception, or
/// 23, integrity constraint violation) rather than for the statement or the connection.
fn refuses_row(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| matches!(&code.code()[..2], "22" | "23"))
}

impl JdbcProducer {
    /// Runs the queued statements pipelined (sent together, answered in order). The first row
    /// the database refuses aborts the transaction: its line is the error.
    fn execute_batch(&mut self) -> Result<(), BridgeError> {
        let batch = std::mem::take(&mut self.batch);
        let client = &self.session.client;
        let results = self
            .session
            .runtime
            .block_on(futures::future::join_all(batch.iter().map(
                |(_, statement, params)| async move {
                    let params: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                    client.execute(statement, &params).await
                },
            )));
        self.pending.extend(batch.iter().map(|(seq, _, _)| *seq));
        let Some((seq, error)) = batch
            .iter()
            .zip(results)
            .find_map(|((seq, _, _), result)| result.err().map(|e| (*seq, e)))
        else {
            return Ok(());
        };
        if !refuses_row(&error) {
            self.aborted = Some(format!("line {seq} could not be written"));
            return Err(BridgeError::client_caused(
                Broker::Jdbc,
                format!("writing to table `{}` at {}", self.table, self.session.url),
                error,
            ));
        }
        self.aborted = Some(format!("line {seq} was refused"));
        let db = error.as_db_error();
        let detail = db
            .and_then(|d| d.detail())
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        Err(InputError {
            line: seq,
            message: format!(
                "table `{}` refuses the row: {}{detail}; the transaction is rolled back, nothing \
                 was written",
                self.table,
                db.map_or_else(|| error.to_string(), |d| d.message().to_string())
            ),
        }
        .into())
    }
}

impl Producer for JdbcProducer {
    fn send(
        &mut self,
        seq: u64,
        record: OutRecord,
        _acks: &mut dyn FnMut(Ack),
    ) -> Result<(), BridgeError> {
        if !self.in_transaction {
            self.session.run(
                self.session.client.batch_execute("BEGIN"),
                "starting a transaction",
            )?;
            self.in_transaction = true;
        }
        let sent = self.plan(&record).and_then(|(statement, params)| {
            self.batch.push((seq, statement, params));
            if self.batch.len() >= PIPELINE {
                self.execute_batch()
            } else {
                Ok(())
            }
        });
        if sent.is_err() && self.aborted.is_none() {
            self.aborted = Some(format!("line {seq} could not be written"));
        }
        sent
    }

    /// A caller that waits for acknowledgements (a pause between paced records, the async
    /// client's idle producer) gets them: the open transaction commits. A caller that only
    /// looks (`Duration::ZERO`, a progress display) changes nothing.
    fn poll(&mut self, timeout: Duration, acks: &mut dyn FnMut(Ack)) {
        if !timeout.is_zero()
            && self.in_transaction
            && let Err(error) = self.flush(timeout, acks)
        {
            tracing::debug!(error = %error.with_causes(), "a commit while waiting failed");
        }
    }

    fn flush(&mut self, _timeout: Duration, acks: &mut dyn FnMut(Ack)) -> Result<(), BridgeError> {
        if !self.in_transaction {
            return Ok(());
        }
        let written = if self.aborted.is_none() {
            self.execute_batch()
        } else {
            Ok(())
        };
        self.in_transaction = false;
        let pending = std::mem::take(&mut self.pending);
        let end = match self.aborted {
            Some(_) => "ROLLBACK",
            None => "COMMIT",
        };
        let ended = self.session.run(
            self.session.client.batch_execute(end),
            "ending the transaction",
        );
        let failure = match (&ended, self.aborted.take()) {
            (Ok(()), None) => None,
            (Ok(()), Some(why)) => Some(format!("rolled back: {why}")),
            (Err(e), _) => Some(format!("not committed: {}", e.with_causes())),
        };
        for seq in pending {
            let result = match &failure {
                None => Ok(()),
                Some(reason) => Err(BridgeError::client(Broker::Jdbc, reason)),
            };
            acks(Ack { seq, result });
        }
        written.and(ended)
    }

    fn topic(&self) -> &str {
        &self.table
    }
}

/// Reads a database table's rows once, as records of the table (see the module docs).
pub struct JdbcConsumer {
    session: Session,
    table: String,
    columns: Vec<(String, TypeKind)>,
    keys: Vec<usize>,
    rows: Option<Pin<Box<RowStream>>>,
    buffered: VecDeque<InRecord>,
    read: u64,
}

impl JdbcConsumer {
    /// Connects to the table's database and starts reading its rows. Only a one-off read from
    /// the start is possible: `--follow`, a start time and a group are for topics.
    pub fn new(
        endpoint: &Endpoint,
        spec: &TableSpec,
        table: &str,
        options: &ConsumeOptions,
        timeout: Duration,
    ) -> Result<Self, BridgeError> {
        let refused = |key: &str, message: &str| BridgeError::Setting {
            key: key.into(),
            message: message.into(),
        };
        if options.follow {
            return Err(refused(
                "follow",
                "a database table is read once; --follow is for topics",
            ));
        }
        if options.group.is_some() {
            return Err(refused("group", "a database table has no consumer groups"));
        }
        if options.start != StartAt::Earliest {
            return Err(refused(
                "from",
                "a database table is read from its first row; --from is for topics",
            ));
        }
        let session = Session::open(endpoint, timeout)?;
        let available = session.describe(table)?;
        let mut selected = Vec::new();
        for field in &spec.columns {
            let name = folded(&field.name);
            if !available.iter().any(|(c, _)| *c == name) {
                let have: Vec<&str> = available.iter().map(|(c, _)| c.as_str()).collect();
                return Err(BridgeError::client(
                    Broker::Jdbc,
                    format!(
                        "table `{table}` at {} has no column `{name}` (it has {})",
                        session.url,
                        have.join(", ")
                    ),
                ));
            }
            let column = sql_ident(&field.name);
            selected.push(match &field.data_type.kind {
                TypeKind::Timestamp => format!("to_json({column})"),
                TypeKind::TimestampLtz => format!("to_json({column} AT TIME ZONE 'UTC')"),
                TypeKind::Bytes { .. } => format!("to_json(encode({column}, 'base64'))"),
                _ => format!("to_json({column})"),
            });
        }
        let keys: Vec<usize> = spec
            .key_fields
            .iter()
            .filter_map(|k| spec.columns.iter().position(|c| &c.name == k))
            .collect();
        let mut sql = format!(
            "SELECT json_build_array({})::text FROM {}",
            selected.join(", "),
            sql_name(table)
        );
        if !keys.is_empty() {
            let order: Vec<String> = keys
                .iter()
                .map(|&i| sql_ident(&spec.columns[i].name))
                .collect();
            sql.push_str(&format!(" ORDER BY {}", order.join(", ")));
        }
        let rows = session.run(
            async {
                let statement = session.client.prepare(&sql).await?;
                session
                    .client
                    .query_raw(&statement, std::iter::empty::<&str>())
                    .await
            },
            &format!("reading table `{table}`"),
        )?;
        Ok(Self {
            session,
            table: table.to_string(),
            columns: spec
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.kind.clone()))
                .collect(),
            keys,
            rows: Some(Box::pin(rows)),
            buffered: VecDeque::new(),
            read: 0,
        })
    }

    /// A row's JSON array as a record: the value an object of the columns, the key an object
    /// of the key columns (a table without one: the row's number, so each row is its own).
    fn record(&mut self, array: &str) -> Result<InRecord, BridgeError> {
        let values: Vec<Value> = serde_json::from_str(array).map_err(|e| {
            BridgeError::client(
                Broker::Jdbc,
                format!("a row of `{}` is not JSON: {e}", self.table),
            )
        })?;
        let mut row = Map::new();
        for ((name, kind), value) in self.columns.iter().zip(values) {
            row.insert(name.clone(), flink_json(kind, value));
        }
        self.read += 1;
        let key = if self.keys.is_empty() {
            self.read.to_string().into_bytes()
        } else {
            let key: Map<String, Value> = self
                .keys
                .iter()
                .map(|&i| {
                    let name = &self.columns[i].0;
                    (name.clone(), row.get(name).cloned().unwrap_or(Value::Null))
                })
                .collect();
            Value::Object(key).to_string().into_bytes()
        };
        Ok(InRecord {
            topic: self.table.clone(),
            key: Some(key),
            value: Some(Value::Object(row).to_string().into_bytes()),
            properties: Vec::new(),
            timestamp: None,
            position: Position::Row { row: self.read },
            schema_version: None,
        })
    }
}

/// PostgreSQL's JSON of a value as Flink's JSON formats write it: timestamps with a space,
/// `TIMESTAMP_LTZ` with a `Z`, base64 without PostgreSQL's line breaks.
fn flink_json(kind: &TypeKind, value: Value) -> Value {
    match (kind, value) {
        (TypeKind::Timestamp, Value::String(s)) => Value::String(s.replacen('T', " ", 1)),
        (TypeKind::TimestampLtz, Value::String(s)) => {
            Value::String(format!("{}Z", s.replacen('T', " ", 1)))
        }
        (TypeKind::Bytes { .. }, Value::String(s)) => Value::String(s.replace('\n', "")),
        (_, value) => value,
    }
}

impl Consumer for JdbcConsumer {
    fn next(&mut self, timeout: Duration) -> Result<Next, BridgeError> {
        if let Some(record) = self.buffered.pop_front() {
            return Ok(Next::Record(Box::new(record)));
        }
        let Some(rows) = self.rows.as_mut() else {
            return Ok(Next::End);
        };
        let next = self
            .session
            .runtime
            .block_on(async { tokio::time::timeout(timeout, rows.next()).await });
        match next {
            Err(_) => Ok(Next::Idle),
            Ok(None) => {
                self.rows = None;
                Ok(Next::End)
            }
            Ok(Some(Err(e))) => Err(BridgeError::client_caused(
                Broker::Jdbc,
                format!("reading table `{}` at {}", self.table, self.session.url),
                e,
            )),
            Ok(Some(Ok(row))) => {
                let array: String = row
                    .try_get(0)
                    .map_err(|e| BridgeError::client_caused(Broker::Jdbc, "reading a row", e))?;
                Ok(Next::Record(Box::new(self.record(&array)?)))
            }
        }
    }

    fn commit(&mut self) -> Result<(), BridgeError> {
        Ok(())
    }
}

/// The table a JDBC endpoint is read with: reading turns rows into the table's columns.
pub(crate) fn needs_table(table: Option<&TableSpec>) -> Result<&TableSpec, BridgeError> {
    table.ok_or_else(|| BridgeError::Setting {
        key: "table".into(),
        message: "a database table is read through its CREATE TABLE (--table NAME -f DDL)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint {
            broker: Broker::Jdbc,
            address: url.into(),
            settings: vec![
                ("username".into(), "u".into()),
                ("password".into(), "p".into()),
            ],
        }
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            shown_url("jdbc:postgresql://h/db?user=a&password=s3cret&x=1"),
            "jdbc:postgresql://h/db?user=a&password=***&x=1"
        );
        assert_eq!(
            shown_url("jdbc:postgresql://h/db"),
            "jdbc:postgresql://h/db"
        );
    }

    #[test]
    fn urls_become_connection_settings() {
        let (parsed, tls) = config(
            &endpoint("jdbc:postgresql://db.example:6432/shop?currentSchema=s&password=x"),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(tls, Tls::Off);
        assert_eq!(parsed.get_dbname(), Some("shop"));
        assert_eq!(parsed.get_ports(), [6432]);
        assert_eq!(parsed.get_user(), Some("u"), "the username option wins");
        assert_eq!(parsed.get_password(), Some(&b"p"[..]));
        let plain = config_of("jdbc:postgresql://localhost/flinkit");
        assert_eq!(plain.get_ports(), [5432]);
        let err = config(&endpoint("jdbc:mysql://h/db"), Duration::from_secs(1)).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains("jdbc:postgresql://"), "{err}");
        let (secured, tls) = config(
            &endpoint("jdbc:postgresql://h/db?sslmode=verify-full&sslrootcert=/ca.pem"),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(secured.get_ssl_mode(), SslMode::Require);
        assert_eq!(
            tls,
            Tls::Verified {
                roots: Some("/ca.pem".into())
            }
        );
        let err = config(
            &endpoint("jdbc:postgresql://h/db?sslmode=sometimes&password=hidden"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(!err.to_string().contains("hidden"), "{err}");
    }

    fn config_of(url: &str) -> Config {
        config(&endpoint(url), Duration::from_secs(1)).unwrap().0
    }

    #[test]
    fn identifiers_are_written_as_flinks_dialect_writes_them() {
        assert_eq!(sql_ident("accountId"), "accountId");
        assert_eq!(folded("accountId"), "accountid");
        assert_eq!(sql_ident("order id"), "\"order id\"");
        assert_eq!(folded("order id"), "order id");
        assert_eq!(sql_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(sql_name("inventory.items"), "inventory.items");
        assert_eq!(placeholder(2, &Type::NUMERIC), "CAST($2 AS numeric)");
        assert_eq!(placeholder(1, &Type::BYTEA), "decode($1, 'base64')");
    }

    #[test]
    fn postgres_json_becomes_flink_json() {
        let ts = Value::String("2024-05-01T10:00:00.12".into());
        assert_eq!(
            flink_json(&TypeKind::Timestamp, ts.clone()),
            "2024-05-01 10:00:00.12"
        );
        assert_eq!(
            flink_json(&TypeKind::TimestampLtz, ts),
            "2024-05-01 10:00:00.12Z"
        );
        assert_eq!(
            flink_json(
                &TypeKind::Bytes { length: None },
                Value::String("AQI=\nAw==".into())
            ),
            "AQI=Aw=="
        );
        assert_eq!(text(&Value::Null), None);
        assert_eq!(text(&serde_json::json!(true)).as_deref(), Some("true"));
        let exact: Value = serde_json::from_str("12345678901234567890.123456789").unwrap();
        assert_eq!(
            text(&exact).as_deref(),
            Some("12345678901234567890.123456789")
        );
    }
}
