//! The versions flinkit runs, read at build time from `jars/pom.xml`, the one place they are
//! pinned (Flink, its Kafka and Pulsar connectors, and the Kafka and Pulsar releases of the
//! local stack), plus the Maven sources of the runner jar embedded in the binary.

include!(concat!(env!("OUT_DIR"), "/versions.rs"));

/// The embedded `jars/` Maven project.
pub mod jar_sources {
    include!(concat!(env!("OUT_DIR"), "/jar_sources.rs"));
}

/// The value of a `<properties>` entry of `jars/pom.xml`.
pub fn property(name: &str) -> Option<&'static str> {
    PROPERTIES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Apache Flink.
pub fn flink() -> &'static str {
    property("flink.version").unwrap_or("unknown")
}

/// The Flink Kafka SQL connector.
pub fn kafka_connector() -> &'static str {
    property("flink.kafka.connector.version").unwrap_or("unknown")
}

/// The Apache Flink Pulsar SQL connector.
pub fn pulsar_connector() -> &'static str {
    property("flink.pulsar.connector.version").unwrap_or("unknown")
}

/// The JVM options Flink needs on Java 17 (`--add-opens`/`--add-exports`).
pub fn jvm_options() -> Vec<&'static str> {
    property("flink.jvm.options")
        .unwrap_or_default()
        .split_whitespace()
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_come_from_the_pom() {
        assert!(super::flink().starts_with("1.20."), "{}", super::flink());
        assert!(super::kafka_connector().ends_with("-1.20"));
        assert!(
            super::jvm_options().contains(&"--add-opens=java.base/java.util=ALL-UNNAMED"),
            "the JDK 17 flags Flink needs are pinned with the versions"
        );
        assert!(
            super::jar_sources::FILES
                .iter()
                .any(|(path, _)| *path == "flink-sql-runner/pom.xml")
        );
    }
}
