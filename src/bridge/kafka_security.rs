//! Kafka security settings written as Flink (the Java client) reads them, turned into
//! librdkafka's, so a table's own `properties.*` reach a SASL/TLS broker from the bridge too:
//!
//! | Java client (a table's `properties.…`) | librdkafka |
//! |---|---|
//! | `security.protocol`, `sasl.mechanism` | the same keys |
//! | `sasl.jaas.config` with `ScramLoginModule` or `PlainLoginModule` (also as relocated in Flink's SQL connector, `org.apache.flink.kafka.shaded.…`) `required username="…" password="…";` | `sasl.username`, `sasl.password` |
//! | `ssl.truststore.location` of type `PEM` (`ssl.truststore.type`) | `ssl.ca.location` |
//! | `ssl.truststore.certificates` (PEM text) | `ssl.ca.pem` |
//! | `ssl.truststore.password`, `ssl.truststore.type` | (read above) |
//! | `ssl.endpoint.identification.algorithm` empty | `ssl.endpoint.identification.algorithm=none` |
//!
//! Everything else passes through unchanged (librdkafka's own keys, as `-X` takes them).

use super::BridgeError;

/// The login modules whose user name and password librdkafka can use.
const LOGIN_MODULES: [&str; 2] = [
    "org.apache.kafka.common.security.scram.ScramLoginModule",
    "org.apache.kafka.common.security.plain.PlainLoginModule",
];

/// Where Flink's SQL Kafka connector relocates the Kafka client (its tables name the login
/// module with this prefix).
const FLINK_SHADED: &str = "org.apache.flink.kafka.shaded.";

fn setting(key: &str, message: impl Into<String>) -> BridgeError {
    BridgeError::Setting {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The settings with the Java client's security keys turned into librdkafka's (see the
/// module's table). Never echoes a value.
pub(crate) fn to_librdkafka(
    settings: &[(String, String)],
) -> Result<Vec<(String, String)>, BridgeError> {
    let last = |key: &str| {
        settings
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
    };
    let truststore_type = last("ssl.truststore.type").map(str::to_ascii_uppercase);
    let mut out = Vec::with_capacity(settings.len());
    for (key, value) in settings {
        match key.as_str() {
            "sasl.jaas.config" => {
                let (username, password) = jaas_login(value)?;
                out.push(("sasl.username".into(), username));
                out.push(("sasl.password".into(), password));
            }
            "ssl.truststore.location" => match truststore_type.as_deref() {
                Some("PEM") => out.push(("ssl.ca.location".into(), value.trim().to_string())),
                other => {
                    return Err(setting(
                        key,
                        format!(
                            "flinkit (librdkafka) reads PEM trust stores only, and this one is {}; \
                             add 'properties.ssl.truststore.type' = 'PEM' with the CA's PEM file, \
                             which Flink's Kafka client reads too",
                            other.map_or("of the Java default type (JKS)".to_string(), |t| {
                                format!("of type {t}")
                            })
                        ),
                    ));
                }
            },
            "ssl.truststore.certificates" => {
                out.push(("ssl.ca.pem".into(), value.clone()));
            }
            "ssl.truststore.type" | "ssl.truststore.password" => {}
            "ssl.endpoint.identification.algorithm" if value.trim().is_empty() => {
                out.push((key.clone(), "none".into()));
            }
            _ => out.push((key.clone(), value.clone())),
        }
    }
    Ok(out)
}

/// The user name and password of a JAAS line
/// `<module> required username="…" password="…";`.
fn jaas_login(jaas: &str) -> Result<(String, String), BridgeError> {
    const KEY: &str = "sasl.jaas.config";
    let jaas = jaas.trim();
    let module = jaas.split_whitespace().next().unwrap_or_default();
    if !LOGIN_MODULES.contains(&module.strip_prefix(FLINK_SHADED).unwrap_or(module)) {
        return Err(setting(
            KEY,
            format!(
                "flinkit signs in with a user name and password ({}); this login module is \
                 not one of them",
                LOGIN_MODULES.join(" or ")
            ),
        ));
    }
    let rest = jaas[module.len()..].trim_start();
    let Some(options) = rest
        .strip_prefix("required")
        .or_else(|| rest.strip_prefix("requisite"))
        .or_else(|| rest.strip_prefix("sufficient"))
        .or_else(|| rest.strip_prefix("optional"))
    else {
        return Err(setting(
            KEY,
            "expected `<module> required username=\"…\" password=\"…\";`",
        ));
    };
    let options = jaas_options(options.trim().trim_end_matches(';'))?;
    let find = |name: &str| {
        options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| setting(KEY, format!("the login has no {name}")))
    };
    Ok((find("username")?, find("password")?))
}

/// `name="value"` pairs (values quoted, `\"` and `\\` escaped; or bare words).
fn jaas_options(text: &str) -> Result<Vec<(String, String)>, BridgeError> {
    let malformed = || {
        setting(
            "sasl.jaas.config",
            "expected options like username=\"…\" password=\"…\"",
        )
    };
    let mut options = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(options);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && !c.is_whitespace()) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') || name.is_empty() {
            return Err(malformed());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or_else(malformed)?),
                    Some(c) => value.push(c),
                    None => return Err(malformed()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        options.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flinks_security_properties_become_librdkafkas() {
        let out = to_librdkafka(&pairs(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.\
                 ScramLoginModule required username=\"flinkit\" password=\"p\\\"w d\";",
            ),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/ca.pem"),
            ("ssl.truststore.password", "unused"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("linger.ms", "5"),
        ]))
        .unwrap();
        assert_eq!(
            out,
            pairs(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "flinkit"),
                ("sasl.password", "p\"w d"),
                ("ssl.ca.location", "/ca.pem"),
                ("ssl.endpoint.identification.algorithm", "none"),
                ("linger.ms", "5"),
            ])
        );
    }

    #[test]
    fn what_librdkafka_cannot_use_is_a_setting_error_without_the_secret() {
        let error = |list: &[(&str, &str)]| match to_librdkafka(&pairs(list)) {
            Err(BridgeError::Setting { key, message }) => (key, message),
            other => panic!("{other:?}"),
        };
        let (key, message) = error(&[("ssl.truststore.location", "/ts.jks")]);
        assert_eq!(key, "ssl.truststore.location");
        assert!(message.contains("'PEM'"), "{message}");
        let (key, message) = error(&[(
            "sasl.jaas.config",
            "com.sun.security.auth.module.Krb5LoginModule required keyTab=\"s3cret\";",
        )]);
        assert_eq!(key, "sasl.jaas.config");
        assert!(!message.contains("s3cret"), "{message}");
        let (_, message) = error(&[(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"u\" password=\"s3cret",
        )]);
        assert!(!message.contains("s3cret"), "{message}");
        let (_, message) = error(&[(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";",
        )]);
        assert!(message.contains("no password"), "{message}");
    }
}
