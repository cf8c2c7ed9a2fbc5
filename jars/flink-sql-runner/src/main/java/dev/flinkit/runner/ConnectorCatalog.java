package dev.flinkit.runner;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.FallbackKey;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.description.Formatter;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.Schema;
import org.apache.flink.table.catalog.CatalogTable;
import org.apache.flink.table.catalog.Column;
import org.apache.flink.table.catalog.ObjectIdentifier;
import org.apache.flink.table.catalog.ResolvedCatalogTable;
import org.apache.flink.table.catalog.ResolvedSchema;
import org.apache.flink.table.catalog.UniqueConstraint;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.abilities.SupportsWritingMetadata;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.abilities.SupportsReadingMetadata;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.Factory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.FormatFactory;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.IllegalFormatException;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.StreamSupport;

/**
 * Describes every table connector and format factory on the classpath: flinkit's offline
 * catalog of options and metadata (the output of {@code --describe-connectors}).
 *
 * <p>Everything is sorted (connectors and formats by identifier, options by key) so that the
 * output can be kept as a snapshot and diffed when versions change.
 */
final class ConnectorCatalog {

    /**
     * Options with which the connectors that need more than their required options can create a
     * source and a sink, to list their metadata. Other connectors get their required options
     * filled with placeholders of the right type.
     */
    private static final Map<String, Map<String, String>> PROBE_OPTIONS = Map.of(
            "kafka", Map.of(
                    "topic", "flinkit-probe",
                    "properties.bootstrap.servers", "localhost:9092",
                    "scan.startup.mode", "earliest-offset",
                    "format", "json"),
            "upsert-kafka", Map.of(
                    "topic", "flinkit-probe",
                    "properties.bootstrap.servers", "localhost:9092",
                    "key.format", "json",
                    "value.format", "json"),
            "pulsar", Map.of(
                    "topics", "persistent://public/default/flinkit-probe",
                    "service-url", "pulsar://localhost:6650",
                    "format", "json"),
            "upsert-pulsar", Map.of(
                    "topics", "persistent://public/default/flinkit-probe",
                    "service-url", "pulsar://localhost:6650",
                    "key.format", "json",
                    "value.format", "json"),
            "filesystem", Map.of(
                    "path", Path.of(System.getProperty("java.io.tmpdir"), "flinkit-probe").toUri().toString(),
                    "format", "json"));

    private static final ObjectIdentifier PROBE_TABLE =
            ObjectIdentifier.of("default_catalog", "default_database", "flinkit_probe");

    private static final Method GET_CLAZZ = accessible("getClazz");
    private static final Method IS_LIST = accessible("isList");

    private ConnectorCatalog() {}

    /** The catalog of the factories that {@code classLoader} can load, as a JSON tree. */
    static Map<String, Object> describe(ClassLoader classLoader) {
        List<String> loadErrors = new ArrayList<>();
        List<Factory> factories = loadFactories(classLoader, loadErrors);

        List<Map<String, Object>> connectors = new ArrayList<>();
        factories.stream()
                .filter(factory -> factory instanceof DynamicTableFactory)
                .sorted(Comparator.comparing(Factory::factoryIdentifier)
                        .thenComparing(factory -> factory.getClass().getName()))
                .forEach(factory -> connectors.add(describeConnector(factory, classLoader)));

        Map<String, List<Factory>> formatsById = new TreeMap<>();
        factories.stream()
                // Every format factory: row formats (Kafka's, Pulsar's) and the filesystem's bulk
                // formats (parquet, orc), which implement neither of the row interfaces.
                .filter(factory -> factory instanceof FormatFactory)
                .forEach(factory -> formatsById
                        .computeIfAbsent(factory.factoryIdentifier(), id -> new ArrayList<>())
                        .add(factory));
        List<Map<String, Object>> formats = new ArrayList<>();
        formatsById.forEach((id, group) -> formats.add(describeFormat(id, group)));

        Map<String, Object> catalog = new LinkedHashMap<>();
        catalog.put("flink_version", EnvironmentInformation.getVersion());
        catalog.put("versions", bundledVersions());
        catalog.put("connectors", connectors);
        catalog.put("formats", formats);
        if (!loadErrors.isEmpty()) {
            catalog.put("load_errors", loadErrors);
        }
        return catalog;
    }

    private static List<Factory> loadFactories(ClassLoader classLoader, List<String> loadErrors) {
        List<Factory> factories = new ArrayList<>();
        Iterator<Factory> iterator = ServiceLoader.load(Factory.class, classLoader).iterator();
        while (true) {
            try {
                if (!iterator.hasNext()) {
                    return factories;
                }
                factories.add(iterator.next());
            } catch (ServiceConfigurationError | LinkageError e) {
                loadErrors.add(ErrorMessages.describeWithType(e));
            }
        }
    }

    private static Map<String, Object> describeConnector(Factory factory, ClassLoader classLoader) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("identifier", factory.factoryIdentifier());
        entry.put("factory", factory.getClass().getName());
        entry.put("source", factory instanceof DynamicTableSourceFactory);
        entry.put("sink", factory instanceof DynamicTableSinkFactory);
        putOptions(entry, (DynamicTableFactory) factory);

        Map<String, String> options = probeOptions(factory);
        ResolvedCatalogTable table = probeTable(factory.factoryIdentifier(), options);
        List<String> errors = new ArrayList<>();
        if (factory instanceof DynamicTableSourceFactory sourceFactory) {
            try {
                DynamicTableSource source = FactoryUtil.createDynamicTableSource(
                        sourceFactory, PROBE_TABLE, table, Map.of(), new Configuration(), classLoader, true);
                if (source instanceof SupportsReadingMetadata reading) {
                    entry.put("readable_metadata", metadataTypes(reading.listReadableMetadata()));
                }
            } catch (Exception | LinkageError e) {
                errors.add("source: " + ErrorMessages.describeWithType(e));
            }
        }
        if (factory instanceof DynamicTableSinkFactory sinkFactory) {
            try {
                DynamicTableSink sink = FactoryUtil.createDynamicTableSink(
                        sinkFactory, PROBE_TABLE, table, Map.of(), new Configuration(), classLoader, true);
                if (sink instanceof SupportsWritingMetadata writing) {
                    entry.put("writable_metadata", metadataTypes(writing.listWritableMetadata()));
                }
            } catch (Exception | LinkageError e) {
                errors.add("sink: " + ErrorMessages.describeWithType(e));
            }
        }
        if (!errors.isEmpty()) {
            entry.put("metadata_error", String.join("; ", errors));
        }
        return entry;
    }

    private static Map<String, Object> describeFormat(String identifier, List<Factory> group) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("identifier", identifier);
        entry.put("factories", group.stream().map(f -> f.getClass().getName()).sorted().toList());
        entry.put("deserialization", group.stream().anyMatch(f -> f instanceof DeserializationFormatFactory));
        entry.put("serialization", group.stream().anyMatch(f -> f instanceof SerializationFormatFactory));
        Map<String, ConfigOption<?>> required = new TreeMap<>();
        Map<String, ConfigOption<?>> optional = new TreeMap<>();
        Set<String> forwarded = new TreeSet<>();
        for (Factory factory : group) {
            factory.requiredOptions().forEach(option -> required.put(option.key(), option));
            factory.optionalOptions().forEach(option -> optional.put(option.key(), option));
            if (factory instanceof FormatFactory format) {
                format.forwardOptions().forEach(option -> forwarded.add(option.key()));
            }
        }
        required.keySet().forEach(optional::remove);
        entry.put("required_options", required.values().stream().map(ConnectorCatalog::describeOption).toList());
        entry.put("optional_options", optional.values().stream().map(ConnectorCatalog::describeOption).toList());
        entry.put("forward_options", List.copyOf(forwarded));
        return entry;
    }

    private static void putOptions(Map<String, Object> entry, DynamicTableFactory factory) {
        entry.put("required_options", describeOptions(factory.requiredOptions()));
        entry.put("optional_options", describeOptions(factory.optionalOptions()));
        entry.put("forward_options", factory.forwardOptions().stream().map(ConfigOption::key).sorted().toList());
    }

    private static List<Map<String, Object>> describeOptions(Set<ConfigOption<?>> options) {
        return options.stream()
                .sorted(Comparator.comparing(ConfigOption::key))
                .map(ConnectorCatalog::describeOption)
                .toList();
    }

    /** Key, type, accepted values, default, fallback keys and description of one option. */
    static Map<String, Object> describeOption(ConfigOption<?> option) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("key", option.key());
        Class<?> clazz = (Class<?>) invoke(GET_CLAZZ, option);
        boolean list = (Boolean) invoke(IS_LIST, option);
        if (list) {
            entry.put("type", "list");
            entry.put("element_type", typeName(clazz));
        } else {
            entry.put("type", typeName(clazz));
        }
        if (clazz.isEnum()) {
            entry.put("values", Arrays.stream(clazz.getEnumConstants()).map(Object::toString).toList());
        }
        if (option.hasDefaultValue()) {
            entry.put("default", FlinkLine.asString(option.defaultValue()));
        }
        List<FallbackKey> alternatives = StreamSupport.stream(option.fallbackKeys().spliterator(), false).toList();
        List<String> fallbackKeys = alternatives.stream()
                .filter(key -> !key.isDeprecated())
                .map(FallbackKey::getKey)
                .toList();
        if (!fallbackKeys.isEmpty()) {
            entry.put("fallback_keys", fallbackKeys);
        }
        List<String> deprecatedKeys = alternatives.stream()
                .filter(FallbackKey::isDeprecated)
                .map(FallbackKey::getKey)
                .toList();
        if (!deprecatedKeys.isEmpty()) {
            entry.put("deprecated_keys", deprecatedKeys);
        }
        String description = new PlainTextFormatter().format(option.description()).strip();
        if (!description.isEmpty()) {
            entry.put("description", description);
        }
        return entry;
    }

    /** The name of a configuration value class, as flinkit's catalog spells it. */
    static String typeName(Class<?> clazz) {
        if (clazz == String.class) {
            return "string";
        } else if (clazz == Integer.class) {
            return "int";
        } else if (clazz == Long.class) {
            return "long";
        } else if (clazz == Boolean.class) {
            return "boolean";
        } else if (clazz == Float.class) {
            return "float";
        } else if (clazz == Double.class) {
            return "double";
        } else if (clazz == Duration.class) {
            return "duration";
        } else if (clazz == MemorySize.class) {
            return "memory_size";
        } else if (Map.class.isAssignableFrom(clazz)) {
            return "map";
        } else if (clazz.isEnum()) {
            return "enum";
        }
        return clazz.getName();
    }

    private static Map<String, String> probeOptions(Factory factory) {
        Map<String, String> options = new TreeMap<>();
        options.put(FactoryUtil.CONNECTOR.key(), factory.factoryIdentifier());
        Map<String, String> known = PROBE_OPTIONS.get(factory.factoryIdentifier());
        if (known != null) {
            options.putAll(known);
            return options;
        }
        for (ConfigOption<?> option : factory.requiredOptions()) {
            options.put(option.key(), placeholder(option));
        }
        return options;
    }

    /** A valid value for a required option of a connector flinkit knows no sample options for. */
    private static String placeholder(ConfigOption<?> option) {
        Class<?> clazz = (Class<?>) invoke(GET_CLAZZ, option);
        if (option.key().endsWith("format")) {
            return "json";
        } else if (clazz.isEnum()) {
            return clazz.getEnumConstants()[0].toString();
        } else if (clazz == Integer.class || clazz == Long.class) {
            return "1";
        } else if (clazz == Float.class || clazz == Double.class) {
            return "1.0";
        } else if (clazz == Boolean.class) {
            return "false";
        } else if (clazz == Duration.class) {
            return "1 s";
        } else if (clazz == MemorySize.class) {
            return "1 mb";
        } else if (Map.class.isAssignableFrom(clazz)) {
            return "k:v";
        }
        return "flinkit-probe";
    }

    /** A two-column table (with a primary key for upsert connectors) with the given options. */
    private static ResolvedCatalogTable probeTable(String identifier, Map<String, String> options) {
        UniqueConstraint primaryKey = identifier.startsWith("upsert-")
                ? UniqueConstraint.primaryKey("pk_id", List.of("id"))
                : null;
        ResolvedSchema schema = new ResolvedSchema(
                List.of(
                        Column.physical("id", DataTypes.INT().notNull()),
                        Column.physical("payload", DataTypes.STRING())),
                List.of(),
                primaryKey);
        CatalogTable table = CatalogTable.newBuilder()
                .schema(Schema.newBuilder().fromResolvedSchema(schema).build())
                .options(options)
                .build();
        return new ResolvedCatalogTable(table, schema);
    }

    private static Map<String, String> metadataTypes(Map<String, DataType> metadata) {
        Map<String, String> types = new TreeMap<>();
        metadata.forEach((key, type) -> types.put(key, type.toString()));
        return types;
    }

    private static Map<String, String> bundledVersions() {
        Properties properties = new Properties();
        try (InputStream in = ConnectorCatalog.class.getResourceAsStream("versions.properties")) {
            if (in == null) {
                throw new IllegalStateException("versions.properties is missing from the runner jar");
            }
            properties.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, String> versions = new TreeMap<>();
        properties.stringPropertyNames().forEach(name -> versions.put(name, properties.getProperty(name)));
        return versions;
    }

    private static Method accessible(String name) {
        try {
            Method method = ConfigOption.class.getDeclaredMethod(name);
            method.setAccessible(true);
            return method;
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("ConfigOption." + name + "() is missing from this Flink version", e);
        }
    }

    private static Object invoke(Method method, ConfigOption<?> option) {
        try {
            return method.invoke(option);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot call ConfigOption." + method.getName() + "()", e);
        }
    }

    /** Renders an option's description as plain text: links as text, lists as dashed lines. */
    private static final class PlainTextFormatter extends Formatter {

        @Override
        protected void formatLink(StringBuilder state, String link, String description) {
            state.append(description.isEmpty() ? link : description);
        }

        @Override
        protected void formatLineBreak(StringBuilder state) {
            state.append('\n');
        }

        @Override
        protected void formatText(
                StringBuilder state,
                String format,
                String[] elements,
                EnumSet<org.apache.flink.configuration.description.TextElement.TextStyle> styles) {
            try {
                state.append(String.format(format, (Object[]) elements));
            } catch (IllegalFormatException e) {
                state.append(format);
            }
        }

        @Override
        protected void formatList(StringBuilder state, String[] entries) {
            for (String entry : entries) {
                state.append("\n- ").append(entry);
            }
        }

        @Override
        protected Formatter newInstance() {
            return new PlainTextFormatter();
        }
    }
}
