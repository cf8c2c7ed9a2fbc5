//! Before a job starts: the PostgreSQL databases its `jdbc` tables name answer, and hold the
//! tables it writes. Flink would otherwise accept the job and fail it later (a refused
//! connection when the sink opens, a missing table at the first flush), after it had started.
//!
//! Only databases on this machine (a loopback host) are checked: a remote host may be reachable
//! from the cluster but not from here, and the check must never refuse a job that would run.

use std::time::Duration;

use crate::sql::{Detail, Script};
use crate::vars::Substituted;

/// Why a job's database is not ready; nothing was started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The database does not answer.
    #[error("the database of table `{table}` ({url}) does not answer; nothing was started")]
    Unreachable {
        /// The Flink table.
        table: String,
        /// The JDBC URL without its query (which may hold a password).
        url: String,
        /// The client's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A table the job writes is not in the database.
    #[error(
        "table `{table}` writes to '{table_name}', which is not in the database {url}; create it first (Flink's jdbc connector does not); nothing was started"
    )]
    MissingTable {
        /// The Flink table.
        table: String,
        /// Its `table-name` option.
        table_name: String,
        /// The JDBC URL without its query.
        url: String,
    },
}

impl DatabaseError {
    /// Whether the script is at fault (a table it names is missing), not the world.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::MissingTable { .. })
    }
}

/// A `jdbc` table on a PostgreSQL database of this machine.
struct Target {
    table: String,
    url: String,
    table_name: String,
    config: tokio_postgres::Config,
    written: bool,
}

/// `jdbc:postgresql://host[:port]/database[?user=…&password=…]` on a loopback host, as a
/// client configuration (the table's `username` and `password` options win over the URL's).
fn config(url: &str, user: Option<&str>, password: Option<&str>) -> Option<tokio_postgres::Config> {
    let rest = url.strip_prefix("jdbc:postgresql://")?;
    let (address, rest) = rest.split_once('/')?;
    let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (host, port) = match address.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || address.starts_with('[') => {
            (host, port.parse().ok()?)
        }
        _ => (address, 5432),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !(host == "localhost" || host.starts_with("127.") || host == "::1") {
        return None;
    }
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(port)
        .dbname(database)
        .connect_timeout(Duration::from_secs(3));
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("user", value)) => {
                config.user(value);
            }
            Some(("password", value)) => {
                config.password(value);
            }
            _ => {}
        }
    }
    if let Some(user) = user {
        config.user(user);
    }
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        config.password(password);
    }
    Some(config)
}

fn targets(script: &Script, values: &Substituted) -> Vec<Target> {
    let written: Vec<&str> = script
        .statements
        .iter()
        .flat_map(|s| s.inserts().iter().map(|i| i.target.as_str()))
        .collect();
    let mut out = Vec::new();
    for stmt in &script.statements {
        let Detail::CreateTable(table) = &stmt.detail else {
            continue;
        };
        let get = |key: &str| {
            table
                .options
                .iter()
                .find(|o| o.key == key)
                .map(|o| values.value(stmt.index, o.value_span.start, &o.value))
        };
        if get("connector") != Some("jdbc") {
            continue;
        }
        let (Some(url), Some(table_name)) = (get("url"), get("table-name")) else {
            continue;
        };
        if let Some(config) = config(url, get("username"), get("password")) {
            out.push(Target {
                table: table.name.clone(),
                url: url.split('?').next().unwrap_or(url).to_string(),
                table_name: table_name.to_string(),
                config,
                written: written.contains(&table.name.as_str()),
            });
        }
    }
    out
}

/// Checks that every database of `script`'s `jdbc` tables on this machine answers, and holds
/// each table the script writes.
pub async fn check(script: &Script, values: &Substituted) -> Result<(), DatabaseError> {
    for target in targets(script, values) {
        let unreachable = |source| DatabaseError::Unreachable {
            table: target.table.clone(),
            url: target.url.clone(),
            source,
        };
        let (client, connection) = target
            .config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(unreachable)?;
        let driver = tokio::spawn(connection);
        let exists = if target.written {
            client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&target.table_name])
                .await
                .map_err(unreachable)?
                .get::<_, bool>(0)
        } else {
            true
        };
        drop(client);
        driver.abort();
        if !exists {
            return Err(DatabaseError::MissingTable {
                table: target.table,
                table_name: target.table_name,
                url: target.url,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_postgres_urls_are_checked_others_are_not() {
        let c = config(
            "jdbc:postgresql://localhost:21432/flinkit?user=u&password=p",
            None,
            None,
        )
        .unwrap();
        assert_eq!(c.get_ports(), [21432]);
        assert_eq!(c.get_dbname(), Some("flinkit"));
        assert_eq!(c.get_user(), Some("u"));
        let c = config("jdbc:postgresql://127.0.0.1/db", Some("flinkit"), Some("")).unwrap();
        assert_eq!(c.get_ports(), [5432]);
        assert_eq!(c.get_user(), Some("flinkit"));
        assert!(c.get_password().is_none());
        assert!(config("jdbc:postgresql://db.example:5432/x", None, None).is_none());
        assert!(config("jdbc:mysql://localhost:3306/x", None, None).is_none());
    }
}
