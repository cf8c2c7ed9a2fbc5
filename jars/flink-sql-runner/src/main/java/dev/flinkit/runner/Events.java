package dev.flinkit.runner;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonGenerator;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.SerializationFeature;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes the runner's machine-readable events: one JSON object per line on stdout, always
 * starting with {@code {"event":}, so that a reader can tell them from other output on stdout
 * (such as the rows of a {@code print} sink).
 */
final class Events {

    /** Non-ASCII characters are escaped, so the output survives any locale of the JVM. */
    private static final ObjectMapper COMPACT =
            new ObjectMapper().enable(JsonGenerator.Feature.ESCAPE_NON_ASCII);

    private static final ObjectMapper PRETTY = new ObjectMapper()
            .enable(JsonGenerator.Feature.ESCAPE_NON_ASCII)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final PrintStream out;

    Events(PrintStream out) {
        this.out = out;
    }

    /**
     * Writes the event {@code name} with the given fields, which alternate between a field name
     * and its value; fields whose value is null are left out.
     */
    void emit(String name, Object... fields) {
        if (fields.length % 2 != 0) {
            throw new IllegalArgumentException("fields must come in name/value pairs");
        }
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("event", name);
        for (int i = 0; i < fields.length; i += 2) {
            if (fields[i + 1] != null) {
                event.put((String) fields[i], fields[i + 1]);
            }
        }
        synchronized (out) {
            out.println(toJson(event, false));
            out.flush();
        }
    }

    /** Writes an {@code error} event for {@code error}. */
    void error(RunnerException error) {
        emit(
                "error",
                "kind", error.kind().label(),
                "statement", error.statement(),
                "message", error.getMessage(),
                "context", error.context());
    }

    /** Serializes a tree of maps, lists, strings, numbers and booleans as JSON. */
    static String toJson(Object value, boolean pretty) {
        try {
            return (pretty ? PRETTY : COMPACT).writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
