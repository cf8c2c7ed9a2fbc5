package dev.flinkit.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A warm session on a real MiniCluster, driven over its socket as flinkit drives it. */
class LocalSessionTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final CountDownLatch stopped = new CountDownLatch(1);
    private LocalSession session;

    @BeforeEach
    void start() throws Exception {
        session = LocalSession.start(dir, 4, Duration.ofMinutes(5), stopped::countDown);
    }

    @AfterEach
    void close() {
        session.close();
    }

    /** What one request got back: its stdout and stderr lines and the exit code. */
    record Answer(List<String> out, List<String> err, int exitCode) {
        List<Map<String, Object>> events() {
            return out.stream().filter(l -> l.startsWith("{\"event\":")).map(RunnerHarness::parse).toList();
        }

        Map<String, Object> single(String name) {
            List<Map<String, Object>> matching = events().stream().filter(e -> name.equals(e.get("event"))).toList();
            assertEquals(1, matching.size(), this::toString);
            return matching.get(0);
        }

        List<String> rows() {
            return out.stream().filter(l -> !l.startsWith("{\"event\":")).sorted().toList();
        }
    }

    private Socket connect() throws IOException {
        return new Socket(InetAddress.getLoopbackAddress(), session.port());
    }

    private static void send(Socket socket, String line) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String request(String token, String... args) {
        return Events.toJson(Map.of("token", token, "run", List.of(args)), false);
    }

    private static Answer read(BufferedReader in) throws IOException {
        List<String> out = new ArrayList<>();
        List<String> err = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            String text = line.substring(2);
            switch (line.charAt(0)) {
                case 'o' -> out.add(text);
                case 'e' -> err.add(text);
                case 'x' -> {
                    return new Answer(out, err, Integer.parseInt(text));
                }
                default -> throw new AssertionError("unexpected line " + line);
            }
        }
        throw new AssertionError("the connection ended without an exit line; out " + out + ", err " + err);
    }

    private Answer run(String... args) {
        try (Socket socket = connect()) {
            send(socket, request(session.token(), args));
            return read(new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A bounded job that prints {@code values} through a print sink named {@code id}. */
    private static String[] printJob(String id, String values) {
        return new String[] {
            "--conf", "execution.runtime-mode=batch",
            "CREATE TEMPORARY VIEW v (k, n) AS VALUES " + values,
            "CREATE TABLE out_rows (k STRING, total INT) WITH ('connector' = 'print', 'print-identifier' = '" + id + "')",
            "INSERT INTO out_rows SELECT k, SUM(n) FROM v GROUP BY k"
        };
    }

    @Test
    void filesDescribeTheSessionAndOnlyItsOwnerCanReadTheToken() throws Exception {
        JsonNode description = JSON.readTree(Files.readString(dir.resolve("session.json")));
        assertEquals(ProcessHandle.current().pid(), description.get("pid").asLong());
        assertEquals(session.port(), description.get("port").asInt());
        assertEquals(session.webUi().toString(), description.get("web_ui").asText());
        assertEquals(session.token(), Files.readString(dir.resolve("token")));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("token"))));
    }

    @Test
    void concurrentRunsShareTheClusterAndEachGetsItsOwnRows() throws Exception {
        CompletableFuture<Answer> first = CompletableFuture.supplyAsync(() -> run(printJob("first", "('a', 1), ('b', 2), ('a', 3)")));
        CompletableFuture<Answer> second = CompletableFuture.supplyAsync(() -> run(printJob("second", "('x', 10), ('y', 20)")));
        Answer a = first.get(180, TimeUnit.SECONDS);
        Answer b = second.get(180, TimeUnit.SECONDS);

        assertEquals(0, a.exitCode(), a::toString);
        assertEquals(0, b.exitCode(), b::toString);
        assertEquals(List.of("first> +I[a, 4]", "first> +I[b, 2]"), a.rows(), a::toString);
        assertEquals(List.of("second> +I[x, 10]", "second> +I[y, 20]"), b.rows(), b::toString);
        assertEquals("FINISHED", a.single("finished").get("state"));
        assertEquals(session.webUi().toString(), a.single("web_ui").get("url"));
        assertEquals(a.single("web_ui"), b.single("web_ui"));
        assertFalse(a.single("submitted").get("job_id").equals(b.single("submitted").get("job_id")));
    }

    @Test
    void badSqlIsTheRunnersOwnLocatedErrorAndTheSessionGoesOn() {
        Answer bad = run(
                "CREATE TABLE src (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')",
                "CREATE TABLE dst (id BIGINT) WITH ('connector' = 'blackhole')",
                "INSERT INTO dst SELECT no_such_column FROM src");
        assertEquals(2, bad.exitCode(), bad::toString);
        Map<String, Object> error = bad.single("error");
        assertEquals("sql", error.get("kind"));
        assertEquals(2, error.get("statement"));
        assertTrue(((String) error.get("message")).contains("no_such_column"), bad::toString);
        assertTrue(bad.err().stream().anyMatch(l -> l.startsWith("error: statement 2: ")), bad::toString);

        Answer good = run(printJob("after", "('a', 1)"));
        assertEquals(0, good.exitCode(), good::toString);
        assertEquals(List.of("after> +I[a, 1]"), good.rows());
    }

    @Test
    void aRequestWithoutTheTokenIsRefused() throws Exception {
        try (Socket socket = connect()) {
            send(socket, request("0".repeat(64), printJob("nope", "('a', 1)")));
            Answer answer = read(new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)));
            assertEquals(2, answer.exitCode());
            assertTrue(answer.out().isEmpty(), answer::toString);
            assertTrue(answer.err().get(0).contains("wrong or missing token"), answer::toString);
        }
        assertTrue(jobStates().isEmpty(), "no job ran");
    }

    @Test
    void closingTheConnectionCancelsTheJob() throws Exception {
        String jobId;
        try (Socket socket = connect()) {
            send(socket, request(session.token(),
                    "CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '5')",
                    "CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole')",
                    "INSERT INTO sink SELECT id FROM gen"));
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            jobId = null;
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("o {\"event\":\"state\"") && line.contains("RUNNING")) {
                    jobId = (String) RunnerHarness.parse(line.substring(2)).get("job_id");
                    break;
                }
            }
        }
        assertTrue(jobId != null, "the job ran");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!"CANCELED".equals(jobStates().get(jobId))) {
            assertTrue(System.nanoTime() < deadline, "not cancelled in 60 s");
            Thread.sleep(200);
        }
    }

    @Test
    void stopEndsTheSessionAndRemovesItsFiles() throws Exception {
        try (Socket socket = connect()) {
            send(socket, Events.toJson(Map.of("token", session.token(), "stop", true), false));
            Answer answer = read(new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)));
            assertEquals(0, answer.exitCode());
        }
        assertTrue(stopped.await(30, TimeUnit.SECONDS));
        assertFalse(Files.exists(dir.resolve("session.json")));
        assertFalse(Files.exists(dir.resolve("token")));
    }

    @Test
    void anIdleSessionStopsByItself(@TempDir Path other) throws Exception {
        CountDownLatch idle = new CountDownLatch(1);
        LocalSession brief = LocalSession.start(other, 1, Duration.ofSeconds(1), idle::countDown);
        try {
            assertTrue(idle.await(30, TimeUnit.SECONDS), "stopped after its idle timeout");
            assertFalse(Files.exists(other.resolve("session.json")));
        } finally {
            brief.close();
        }
    }

    /** Each job's state, through the cluster's REST API. */
    private Map<String, String> jobStates() throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(session.webUi() + "/jobs/overview")).build(),
                HttpResponse.BodyHandlers.ofString());
        Map<String, String> states = new HashMap<>();
        for (JsonNode job : JSON.readTree(response.body()).path("jobs")) {
            states.put(job.get("jid").asText(), job.get("state").asText());
        }
        return states;
    }
}
