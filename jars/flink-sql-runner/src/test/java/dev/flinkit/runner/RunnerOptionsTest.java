package dev.flinkit.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flinkit.runner.RunnerOptions.Mode;
import dev.flinkit.runner.RunnerOptions.WaitMode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

class RunnerOptionsTest {

    /** Statements with the characters that tend to break encodings: quotes, newlines, unicode. */
    private static final List<String> STATEMENTS = List.of(
            "-- sink\nCREATE TABLE t (a STRING) WITH ('connector' = 'print')",
            "SET 'pipeline.name' = 'it''s \"quoted\" – ünïcödé'",
            "INSERT INTO t SELECT 'tab\there' FROM (VALUES (1))");

    private static final String JSON = Events.toJson(STATEMENTS, false);

    @TempDir
    Path dir;

    @Test
    void fileBase64AndPositionalArgumentsParseIdentically() throws IOException, RunnerException {
        Path file = dir.resolve("statements.json");
        Files.writeString(file, JSON, StandardCharsets.UTF_8);
        String b64 = Base64.getEncoder().encodeToString(JSON.getBytes(StandardCharsets.UTF_8));

        RunnerOptions fromFile = RunnerOptions.parse(new String[] {"--statements-file", file.toString()});
        RunnerOptions fromB64 = RunnerOptions.parse(new String[] {"--statements-b64", b64});
        RunnerOptions fromB64Inline = RunnerOptions.parse(new String[] {"--statements-b64=" + b64});
        RunnerOptions positional = RunnerOptions.parse(STATEMENTS.toArray(String[]::new));

        assertEquals(STATEMENTS, positional.statements());
        assertEquals(positional, fromFile);
        assertEquals(positional, fromB64);
        assertEquals(positional, fromB64Inline);
    }

    @Test
    void parsesOptions() throws RunnerException {
        RunnerOptions options = RunnerOptions.parse(new String[] {
            "--job-name", "orders",
            "--conf", "rest.port=0",
            "--conf=execution.runtime-mode = batch",
            "--parallelism", "3",
            "--verbose",
            "--wait",
            "INSERT INTO t SELECT 1",
        });
        assertEquals(Mode.RUN, options.mode());
        assertEquals("orders", options.jobName());
        assertEquals(Map.of("rest.port", "0", "execution.runtime-mode", "batch"), options.conf());
        assertEquals(List.of("rest.port", "execution.runtime-mode"), List.copyOf(options.conf().keySet()));
        assertEquals(3, options.parallelism());
        assertTrue(options.verbose());
        assertEquals(WaitMode.WAIT, options.waitMode());
        assertEquals(List.of("INSERT INTO t SELECT 1"), options.statements());
    }

    @Test
    void defaults() throws RunnerException {
        RunnerOptions options = RunnerOptions.parse(new String[] {"INSERT INTO t SELECT 1"});
        assertNull(options.jobName());
        assertNull(options.parallelism());
        assertFalse(options.verbose());
        assertTrue(options.conf().isEmpty());
        assertEquals(WaitMode.DEFAULT, options.waitMode());
    }

    @Test
    void sourcesAreConcatenatedInOrder() throws RunnerException {
        String b64 = Base64.getEncoder().encodeToString("[\"B\", \"C\"]".getBytes(StandardCharsets.UTF_8));
        RunnerOptions options = RunnerOptions.parse(new String[] {"A", "--statements-b64", b64, "D"});
        assertEquals(List.of("A", "B", "C", "D"), options.statements());
    }

    @Test
    void argumentWithWhitespaceStartingWithDashesIsAStatement() throws RunnerException {
        String commented = "-- a comment\nINSERT INTO t SELECT 1";
        assertEquals(List.of(commented), RunnerOptions.parse(new String[] {commented}).statements());
    }

    @Test
    void doubleDashEndsOptions() throws RunnerException {
        RunnerOptions options = RunnerOptions.parse(new String[] {"--", "--verbose"});
        assertEquals(List.of("--verbose"), options.statements());
        assertFalse(options.verbose());
    }

    @Test
    void modes() throws RunnerException {
        assertEquals(Mode.EXPLAIN, RunnerOptions.parse(new String[] {"--explain", "INSERT INTO t SELECT 1"}).mode());
        assertEquals(Mode.DESCRIBE_CONNECTORS, RunnerOptions.parse(new String[] {"--describe-connectors"}).mode());
        assertEquals(Mode.HELP, RunnerOptions.parse(new String[] {"--help"}).mode());
    }

    @Test
    void rejectsBadCommandLines() {
        assertUsageError("no statements given", "--verbose");
        assertUsageError("unknown option --nope", "--nope", "INSERT INTO t SELECT 1");
        assertUsageError("--conf expects KEY=VALUE", "--conf", "novalue", "X");
        assertUsageError("--parallelism expects a positive integer", "--parallelism", "0", "X");
        assertUsageError("--job-name needs a value", "X", "--job-name");
        assertUsageError("exclude each other", "--wait", "--detach", "X");
        assertUsageError("exclude each other", "--explain", "--describe-connectors");
        assertUsageError("takes no statements", "--describe-connectors", "X");
        assertUsageError("--verbose takes no value", "--verbose=yes", "X");
        assertUsageError("not valid base64", "--statements-b64", "***");
        assertUsageError("expected a JSON array of strings", "--statements-b64",
                Base64.getEncoder().encodeToString("[1]".getBytes(StandardCharsets.UTF_8)));
        assertUsageError("not valid JSON", "--statements-b64",
                Base64.getEncoder().encodeToString("[\"a\"".getBytes(StandardCharsets.UTF_8)));
        assertUsageError("cannot read", "--statements-file", dir.resolve("missing.json").toString());
    }

    private static void assertUsageError(String expected, String... args) {
        RunnerException error = assertThrows(RunnerException.class, () -> RunnerOptions.parse(args));
        assertEquals(RunnerException.Kind.USAGE, error.kind());
        assertTrue(error.getMessage().contains(expected), () -> "'" + error.getMessage() + "' lacks '" + expected + "'");
    }
}
