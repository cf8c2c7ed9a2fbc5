package dev.flinkit.runner;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.type.TypeReference;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Runs the runner in-process and captures its exit code, events and output. */
final class RunnerHarness {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EVENT_PREFIX = "{\"event\":";

    private RunnerHarness() {}

    /**
     * What one run produced.
     *
     * @param exitCode the exit code
     * @param events the JSON events on stdout, in order
     * @param otherStdout the lines of stdout that are not events (such as a print sink's rows)
     * @param stderr everything written to stderr
     */
    record Run(int exitCode, List<Map<String, Object>> events, List<String> otherStdout, String stderr) {

        /** The events named {@code name}. */
        List<Map<String, Object>> events(String name) {
            return events.stream().filter(event -> name.equals(event.get("event"))).toList();
        }

        /** The only event named {@code name}; fails if there is not exactly one. */
        Map<String, Object> single(String name) {
            List<Map<String, Object>> matching = events(name);
            if (matching.size() != 1) {
                throw new AssertionError("expected one '" + name + "' event, got " + events + "\nstderr:\n" + stderr);
            }
            return matching.get(0);
        }

        /** The names of all events, in order. */
        List<Object> names() {
            return events.stream().map(event -> event.get("event")).toList();
        }

        @Override
        public String toString() {
            return "exit " + exitCode + ", events " + events + ", other stdout " + otherStdout + "\nstderr:\n" + stderr;
        }
    }

    static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exitCode;
        try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
                PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            exitCode = SqlRunner.run(args, outStream, errStream);
        }
        List<Map<String, Object>> events = new ArrayList<>();
        List<String> other = new ArrayList<>();
        for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
            if (line.startsWith(EVENT_PREFIX)) {
                events.add(parse(line));
            } else if (!line.isEmpty()) {
                other.add(line);
            }
        }
        return new Run(exitCode, events, other, err.toString(StandardCharsets.UTF_8));
    }

    static Map<String, Object> parse(String json) {
        try {
            return JSON.readValue(json, new TypeReference<Map<String, Object>>() {});
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The lines of every data file under {@code dir}, skipping hidden and bookkeeping files. */
    static List<String> readRows(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            List<String> rows = new ArrayList<>();
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String name = file.getFileName().toString();
                if (!name.startsWith(".") && !name.startsWith("_")) {
                    rows.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
                }
            }
            return rows;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
