package dev.flinkit.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flinkit.runner.RunnerHarness.Run;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The output of {@code --describe-connectors}, flinkit's offline option catalog. */
class ConnectorCatalogTest {

    private static Map<String, Object> catalog;

    @BeforeAll
    static void describe() {
        Run run = RunnerHarness.run("--describe-connectors");
        assertEquals(0, run.exitCode(), run::toString);
        assertTrue(run.events().isEmpty(), "the catalog is one JSON document, not events");
        catalog = RunnerHarness.parse(String.join("\n", run.otherStdout()));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(Map<String, Object> parent, String key) {
        return (List<Map<String, Object>>) parent.get(key);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Map<String, Object> parent, String key) {
        return (Map<String, Object>) parent.get(key);
    }

    private static Map<String, Object> entry(String kind, String identifier) {
        return list(catalog, kind).stream()
                .filter(entry -> identifier.equals(entry.get("identifier")))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " entry for " + identifier));
    }

    private static Map<String, Object> option(Map<String, Object> connector, String key) {
        List<Map<String, Object>> options = new ArrayList<>(list(connector, "required_options"));
        options.addAll(list(connector, "optional_options"));
        return options.stream()
                .filter(option -> key.equals(option.get("key")))
                .findFirst()
                .orElseThrow(() -> new AssertionError(connector.get("identifier") + " has no option " + key));
    }

    private static List<String> identifiers(String kind) {
        return list(catalog, kind).stream().map(entry -> (String) entry.get("identifier")).toList();
    }

    @Test
    void listsTheBundledAndRuntimeConnectorsSorted() {
        List<String> connectors = identifiers("connectors");
        assertTrue(connectors.containsAll(List.of(
                "blackhole", "datagen", "filesystem", "kafka", "pulsar", "print", "upsert-kafka", "upsert-pulsar")),
                connectors::toString);
        assertEquals(connectors.stream().sorted().toList(), connectors);
    }

    @Test
    void listsTheFormatsSorted() {
        List<String> formats = identifiers("formats");
        assertTrue(formats.containsAll(List.of("avro", "avro-confluent", "csv", "debezium-json", "json", "raw")),
                formats::toString);
        assertEquals(formats.stream().sorted().toList(), formats);
        Map<String, Object> json = entry("formats", "json");
        assertEquals(true, json.get("deserialization"));
        assertEquals(true, json.get("serialization"));
        assertEquals("boolean", option(json, "ignore-parse-errors").get("type"));
        assertEquals("false", option(json, "ignore-parse-errors").get("default"));

        Map<String, Object> registry = entry("formats", "avro-confluent");
        assertEquals(List.of("url"), list(registry, "required_options").stream().map(o -> o.get("key")).toList());
        assertEquals(List.of("schema-registry.url"), option(registry, "url").get("fallback_keys"));
    }

    @Test
    void everyConnectorCreatesItsSourceAndSink() {
        for (Map<String, Object> connector : list(catalog, "connectors")) {
            assertFalse(connector.containsKey("metadata_error"), connector::toString);
        }
        assertFalse(catalog.containsKey("load_errors"), () -> String.valueOf(catalog.get("load_errors")));
    }

    @Test
    void kafkaMetadata() {
        Map<String, Object> kafka = entry("connectors", "kafka");
        assertEquals(
                Set.of("topic", "partition", "headers", "leader-epoch", "offset", "timestamp", "timestamp-type"),
                map(kafka, "readable_metadata").keySet());
        assertEquals("MAP<STRING, BYTES> NOT NULL", map(kafka, "readable_metadata").get("headers"));
        assertEquals(Set.of("headers", "timestamp"), map(kafka, "writable_metadata").keySet());
    }

    @Test
    void pulsarMetadata() {
        Map<String, Object> pulsar = entry("connectors", "pulsar");
        Map<String, Object> readable = map(pulsar, "readable_metadata");
        assertTrue(readable.keySet().containsAll(List.of(
                "event_time", "properties", "topic", "message_size", "producer_name", "message_id",
                "sequenceId", "publish_time")), readable::toString);
        assertEquals("TIMESTAMP_LTZ(3) NOT NULL", readable.get("event_time"));
        assertTrue(map(pulsar, "writable_metadata").containsKey("event_time"), pulsar::toString);
        assertEquals(
                List.of("service-url", "topics"),
                list(pulsar, "required_options").stream().map(option -> option.get("key")).toList());
    }

    @Test
    void optionsCarryTypeValuesAndDefaults() {
        Map<String, Object> kafka = entry("connectors", "kafka");
        Map<String, Object> startup = option(kafka, "scan.startup.mode");
        assertEquals("enum", startup.get("type"));
        assertEquals(
                List.of("earliest-offset", "latest-offset", "group-offsets", "timestamp", "specific-offsets"),
                startup.get("values"));
        assertEquals("group-offsets", startup.get("default"));
        assertEquals("duration", option(kafka, "scan.topic-partition-discovery.interval").get("type"));
        assertEquals("list", option(kafka, "topic").get("type"));
        assertEquals("string", option(kafka, "topic").get("element_type"));
        assertTrue(((String) option(kafka, "topic").get("description")).startsWith("Topic name(s)"));
        assertTrue(((List<?>) kafka.get("forward_options")).contains("properties.bootstrap.servers"));

        Map<String, Object> filesystem = entry("connectors", "filesystem");
        assertEquals("memory_size", option(filesystem, "sink.rolling-policy.file-size").get("type"));
        assertEquals("128 mb", option(filesystem, "sink.rolling-policy.file-size").get("default"));

        for (Map<String, Object> connector : list(catalog, "connectors")) {
            for (String kind : List.of("required_options", "optional_options")) {
                List<String> keys = list(connector, kind).stream().map(option -> (String) option.get("key")).toList();
                assertEquals(keys.stream().sorted().toList(), keys, connector.get("identifier") + " " + kind);
            }
        }
    }

    @Test
    void reportsTheVersionsItWasBuiltWith() {
        assertEquals(org.apache.flink.runtime.util.EnvironmentInformation.getVersion(), catalog.get("flink_version"));
        Map<String, Object> versions = map(catalog, "versions");
        assertTrue(((String) versions.get("flink-connector-kafka")).endsWith("-1.20"), versions::toString);
        assertFalse(versions.values().stream().anyMatch(v -> ((String) v).contains("${")), versions::toString);
    }
}
