package dev.flinkit.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flinkit.runner.RunnerHarness.Run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/** Runs scripts end to end on the runner's embedded MiniCluster. */
class SqlRunnerJobTest {

    private static final String BATCH = "execution.runtime-mode=batch";

    @TempDir
    Path dir;

    /** A bounded source of {@code rows} rows: ids 1..rows in order, and a 4-letter name. */
    private static String datagen(String table, int rows) {
        return "CREATE TABLE " + table + " (id INT, name STRING) WITH ("
                + "'connector' = 'datagen', 'number-of-rows' = '" + rows + "', "
                + "'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '" + rows + "', "
                + "'fields.name.length' = '4')";
    }

    private static String csvSink(String table, Path path) {
        return "CREATE TABLE " + table + " (id INT, name STRING) WITH ("
                + "'connector' = 'filesystem', 'path' = '" + path.toUri() + "', 'format' = 'csv')";
    }

    private static List<Integer> ids(List<String> csvRows) {
        return csvRows.stream().map(row -> Integer.parseInt(row.substring(0, row.indexOf(',')))).sorted().toList();
    }

    private static List<Integer> range(int fromInclusive, int toInclusive) {
        return IntStream.rangeClosed(fromInclusive, toInclusive).boxed().toList();
    }

    private static void assertFinished(Run run) {
        assertEquals(0, run.exitCode(), run::toString);
        assertEquals("FINISHED", run.single("finished").get("state"), run::toString);
        assertEquals(run.single("submitted").get("job_id"), run.single("finished").get("job_id"));
    }

    @Test
    void batchDatagenToFilesystemWritesEveryRow() {
        Path out = dir.resolve("out");
        Run run = RunnerHarness.run(
                "--conf", BATCH,
                datagen("src", 20),
                csvSink("dst", out),
                "INSERT INTO dst SELECT id, name FROM src");

        assertFinished(run);
        assertEquals("web_ui", run.names().get(0), run::toString);
        assertTrue(((String) run.single("web_ui").get("url")).matches("http://[^:]+:\\d+/?"), run::toString);
        List<String> rows = RunnerHarness.readRows(out);
        assertEquals(range(1, 20), ids(rows));
        for (String row : rows) {
            assertTrue(row.matches("\\d+,\\w{4}"), () -> "unexpected row " + row);
        }
    }

    @Test
    void twoInsertsMakeOneJob() {
        Path all = dir.resolve("all");
        Path even = dir.resolve("even");
        Run run = RunnerHarness.run(
                "--conf", BATCH,
                datagen("src", 10),
                csvSink("dst_all", all),
                csvSink("dst_even", even),
                "INSERT INTO dst_all SELECT id, name FROM src",
                "INSERT INTO dst_even SELECT id, name FROM src WHERE MOD(id, 2) = 0");

        assertFinished(run);
        assertEquals(List.of(3, 4), run.single("submitted").get("statements"));
        assertEquals(range(1, 10), ids(RunnerHarness.readRows(all)));
        assertEquals(List.of(2, 4, 6, 8, 10), ids(RunnerHarness.readRows(even)));
    }

    @Test
    void explainShowsBothSinksInOnePlanWithoutRunning() {
        Run run = RunnerHarness.run(
                "--explain",
                datagen("src", 10),
                csvSink("dst_all", dir.resolve("all")),
                csvSink("dst_even", dir.resolve("even")),
                "INSERT INTO dst_all SELECT id, name FROM src",
                "INSERT INTO dst_even SELECT id, name FROM src WHERE MOD(id, 2) = 0");

        assertEquals(0, run.exitCode(), run::toString);
        assertEquals(List.of("plan"), run.names());
        String plan = (String) run.single("plan").get("plan");
        assertTrue(plan.contains("default_catalog.default_database.dst_all"), plan);
        assertTrue(plan.contains("default_catalog.default_database.dst_even"), plan);
        assertEquals(List.of(3, 4), run.single("plan").get("statements"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "EXECUTE STATEMENT SET BEGIN INSERT INTO dst_a SELECT id, name FROM src; "
                + "INSERT INTO dst_b SELECT id, name FROM src WHERE id > 3; END",
        "BEGIN STATEMENT SET;\nINSERT INTO dst_a SELECT id, name FROM src;\n"
                + "INSERT INTO dst_b SELECT id, name FROM src WHERE id > 3;\nEND;",
    })
    void statementSetRunsAsOneJob(String statementSet) {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Run run = RunnerHarness.run(
                "--conf", BATCH, datagen("src", 5), csvSink("dst_a", a), csvSink("dst_b", b), statementSet);

        assertFinished(run);
        assertEquals(List.of(3), run.single("submitted").get("statements"));
        assertEquals(range(1, 5), ids(RunnerHarness.readRows(a)));
        assertEquals(List.of(4, 5), ids(RunnerHarness.readRows(b)));
    }

    @Test
    void setSwitchesToBatchAndNamesTheJob() {
        Path out = dir.resolve("sorted");
        Run run = RunnerHarness.run(
                "SET 'execution.runtime-mode' = 'batch'",
                "SET 'pipeline.name' = 'flinkit ''set'' test'",
                datagen("src", 6),
                csvSink("dst", out),
                // Sorting on a non-time attribute only plans in batch mode.
                "INSERT INTO dst SELECT id, name FROM src ORDER BY id DESC");

        assertFinished(run);
        assertEquals("flinkit 'set' test", run.single("submitted").get("job_name"));
        List<String> rows = RunnerHarness.readRows(out);
        List<Integer> written = rows.stream().map(row -> Integer.parseInt(row.substring(0, row.indexOf(',')))).toList();
        assertEquals(List.of(6, 5, 4, 3, 2, 1), written);
    }

    @Test
    void withoutTheSetTheSameScriptIsStreamingAndFailsToPlan() {
        Run run = RunnerHarness.run(
                datagen("src", 6),
                csvSink("dst", dir.resolve("sorted")),
                "INSERT INTO dst SELECT id, name FROM src ORDER BY id DESC");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertEquals("sql", error.get("kind"));
        assertEquals(2, error.get("statement"));
        assertTrue(((String) error.get("message")).contains("Sort on a non-time-attribute field is not supported"),
                run::toString);
    }

    @Test
    void jobNameOptionWinsOverSetAndResetUndoesSet() {
        String blackhole = "CREATE TABLE sink (id INT, name STRING) WITH ('connector' = 'blackhole')";
        String insert = "INSERT INTO sink SELECT id, name FROM src";

        Run named = RunnerHarness.run(
                "--conf", BATCH, "--job-name", "from-option",
                "SET 'pipeline.name' = 'from-set'", datagen("src", 1), blackhole, insert);
        assertFinished(named);
        assertEquals("from-option", named.single("submitted").get("job_name"));

        Run reset = RunnerHarness.run(
                "--conf", BATCH,
                "SET 'pipeline.name' = 'from-set'", "RESET 'pipeline.name'", datagen("src", 1), blackhole, insert);
        assertFinished(reset);
        assertEquals("insert-into_default_catalog.default_database.sink", reset.single("submitted").get("job_name"));
    }

    @Test
    void badSqlNamesTheStatementAndExitsTwoWithoutStackTrace() {
        Run run = RunnerHarness.run(
                datagen("src", 1),
                "CREATE TABLE broken (a INT WITH ('connector' = 'blackhole')",
                "INSERT INTO broken SELECT id FROM src");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertEquals("sql", error.get("kind"));
        assertEquals(1, error.get("statement"));
        String message = (String) error.get("message");
        assertTrue(message.contains("Encountered \"WITH\" at line 1, column 28"), message);
        assertFalse(message.contains("\tat "), message);
        assertTrue(run.stderr().contains("error: statement 1: "), run.stderr());
        assertFalse(run.stderr().contains("\tat "), run.stderr());
        assertTrue(run.events("submitted").isEmpty());
        assertTrue(run.otherStdout().isEmpty(), run::toString);
    }

    @Test
    void unknownTableIsAValidationErrorOfItsStatement() {
        Run run = RunnerHarness.run(
                datagen("src", 1),
                "CREATE TABLE sink (id INT) WITH ('connector' = 'blackhole')",
                "INSERT INTO sink SELECT id FROM missing_table");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertEquals(2, error.get("statement"));
        assertTrue(((String) error.get("message")).contains("Object 'missing_table' not found"), run::toString);
    }

    @Test
    void unknownConnectorIsBlamedOnTheOnlyInsert() {
        Run run = RunnerHarness.run(
                datagen("src", 1),
                "CREATE TABLE sink (id INT) WITH ('connector' = 'no-such-connector')",
                "INSERT INTO sink SELECT id FROM src");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertEquals(2, error.get("statement"));
        assertTrue(((String) error.get("message")).contains("'no-such-connector'"), run::toString);
        assertNotNull(error.get("context"), run::toString);
    }

    @Test
    void bareSelectIsRejected() {
        Run run = RunnerHarness.run(datagen("src", 1), "SELECT * FROM src");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertEquals(1, error.get("statement"));
        assertTrue(((String) error.get("message")).contains("INSERT INTO"), run::toString);
    }

    @Test
    void scriptWithoutInsertIsRejected() {
        Run run = RunnerHarness.run(datagen("src", 1), "CREATE VIEW v AS SELECT id FROM src");

        assertEquals(2, run.exitCode(), run::toString);
        Map<String, Object> error = run.single("error");
        assertFalse(error.containsKey("statement"), run::toString);
        assertTrue(((String) error.get("message")).contains("no INSERT"), run::toString);
    }

    @Test
    void failingJobExitsOneWithTheRootCause() {
        Run run = RunnerHarness.run(
                "--conf", BATCH,
                datagen("src", 3),
                "CREATE TABLE sink (x INT) WITH ('connector' = 'blackhole')",
                "INSERT INTO sink SELECT 10 / (id - id) FROM src");

        assertEquals(1, run.exitCode(), run::toString);
        Map<String, Object> failed = run.single("failed");
        assertEquals(run.single("submitted").get("job_id"), failed.get("job_id"));
        assertEquals("FAILED", failed.get("state"));
        assertTrue(((String) failed.get("message")).startsWith("ArithmeticException"), run::toString);
        assertTrue(run.events("finished").isEmpty());
    }

    @Test
    void detachIsRefusedOnTheLocalMiniCluster() {
        Run run = RunnerHarness.run("--detach", datagen("src", 1),
                "CREATE TABLE sink (id INT) WITH ('connector' = 'blackhole')", "INSERT INTO sink SELECT id FROM src");

        assertEquals(2, run.exitCode(), run::toString);
        assertEquals("usage", run.single("error").get("kind"));
    }
}
