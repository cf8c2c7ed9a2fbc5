package dev.flinkit.runner;

import org.apache.flink.api.common.JobID;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.flink.util.MdcUtils;
import org.slf4j.MDC;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A warm local Flink: one long-lived {@link MiniCluster} (and a JVM whose planner has already
 * compiled a script) that runs the runner's scripts sent over a loopback socket, so that a
 * local run costs a job submission instead of a JVM start.
 *
 * <p>Started with {@code --dir DIR}, it binds {@code 127.0.0.1} on a free port, writes
 * {@code DIR/token} (a random secret, readable only by its owner) and then {@code DIR/session.json}
 * ({@code pid}, {@code port}, {@code web_ui}, {@code slots}, {@code idle_timeout_s}), and removes
 * both when it stops. The protocol, one connection per request, UTF-8 lines:
 *
 * <ul>
 *   <li>the client sends {@code {"token":"…","run":["--statements-file","…",…]}} — the runner's own
 *       arguments — or {@code {"token":"…","stop":true}};
 *   <li>the session answers with lines {@code o <line>} (the run's stdout: its events and a
 *       {@code print} sink's rows), {@code e <line>} (its stderr), and last {@code x <exit code>};
 *   <li>the client may send {@code cancel}, or close the connection: either cancels the run's job.
 * </ul>
 *
 * <p>A run through the session is the runner's own code path ({@link SqlRunner#run(String[],
 * PrintStream, PrintStream, SqlRunner.SharedCluster)}): same statements, events, errors and exit
 * codes as a run on a MiniCluster of its own. A {@code print} sink's rows reach the connection of
 * the job that printed them: Flink marks each task thread with its job id ({@link MdcUtils}), and
 * the threads a task starts inherit it ({@link #INHERITABLE_CONTEXT}, set before logging starts).
 *
 * <p>It stops on {@code stop}, after {@code --idle-timeout} seconds without any run, when the
 * process {@code --exit-with PID} ends, or on SIGTERM.
 */
public final class LocalSession implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration FIRST_LINE_TIMEOUT = Duration.ofSeconds(10);
    private static final String USAGE = String.join(
            "\n",
            "Usage: java -cp flink-sql-runner.jar:<flink jars> dev.flinkit.runner.LocalSession --dir DIR [OPTIONS]",
            "",
            "Keeps a MiniCluster warm and runs the runner's scripts sent over a loopback socket.",
            "",
            "Options:",
            "  --dir DIR              where session.json and the token file are written (required)",
            "  --slots N              task slots of the cluster (default 8)",
            "  --idle-timeout SECS    stop after this long without any run (default 900)",
            "  --exit-with PID        stop when that process ends",
            "  --verbose              Flink logs at INFO",
            "");

    private final Path dir;
    private final MiniCluster cluster;
    private final URI webUi;
    private final ServerSocket server;
    private final byte[] token;
    private final Duration idleTimeout;
    private final Runnable onStop;
    private final Map<String, Run> runsByJob = new ConcurrentHashMap<>();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicLong lastActivity = new AtomicLong(System.nanoTime());
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final PrintStream originalOut;

    private LocalSession(Path dir, int slots, Duration idleTimeout, Runnable onStop) throws Exception {
        this.dir = dir;
        this.idleTimeout = idleTimeout;
        this.onStop = onStop;
        Configuration configuration = new Configuration();
        configuration.set(RestOptions.BIND_PORT, "0");
        this.cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
                .setConfiguration(configuration)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(slots)
                .build());
        cluster.start();
        this.webUi = cluster.getRestAddress().get();
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.token = new byte[32];
        new SecureRandom().nextBytes(token);
        this.originalOut = System.out;
        System.setOut(new PrintStream(new RoutedOutput(), true, StandardCharsets.UTF_8));
        writeFiles(slots);
    }

    /**
     * Starts a session: the cluster, the socket, the files in {@code dir}, a thread that accepts
     * runs and one that stops the session once it has been idle for {@code idleTimeout}.
     *
     * @param onStop called once the session has stopped
     */
    static LocalSession start(Path dir, int slots, Duration idleTimeout, Runnable onStop) throws Exception {
        LocalSession session = new LocalSession(dir, slots, idleTimeout, onStop);
        Thread acceptor = new Thread(session::accept, "flinkit-session-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        Thread watchdog = new Thread(session::watchIdle, "flinkit-session-idle");
        watchdog.setDaemon(true);
        watchdog.start();
        return session;
    }

    /**
     * The log4j property that makes a thread inherit its creator's logging context, so that the
     * threads a task starts (such as a legacy source's) carry its job id too.
     */
    static final String INHERITABLE_CONTEXT = "log4j2.isThreadContextMapInheritable";

    /** The command-line entry point: runs a session until it stops, then exits. */
    public static void main(String[] args) {
        System.setProperty(INHERITABLE_CONTEXT, "true");
        SqlRunner.configureLocalLogging(args);
        Path dir = null;
        int slots = 8;
        long idleSeconds = 900;
        Long exitWith = null;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--dir" -> dir = Path.of(value(args, ++i));
                    case "--slots" -> slots = positive(value(args, ++i), "--slots");
                    case "--idle-timeout" -> idleSeconds = positive(value(args, ++i), "--idle-timeout");
                    case "--exit-with" -> exitWith = (long) positive(value(args, ++i), "--exit-with");
                    case "--verbose" -> { }
                    case "--help" -> {
                        System.out.print(USAGE);
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (dir == null) {
                throw new IllegalArgumentException("--dir is required");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage() + "\n\n" + USAGE);
            System.exit(2);
            return;
        }
        LocalSession session;
        try {
            session = start(dir, slots, Duration.ofSeconds(idleSeconds), () -> System.exit(0));
        } catch (Exception e) {
            System.err.println("error: cannot start the local session: " + ErrorMessages.describeWithType(e));
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(session::close, "flinkit-session-shutdown"));
        if (exitWith != null) {
            ProcessHandle.of(exitWith).ifPresentOrElse(
                    owner -> owner.onExit().thenRun(session::stop), session::stop);
        }
        System.err.println("flinkit local session: pid " + ProcessHandle.current().pid() + ", port "
                + session.port() + ", web UI " + session.webUi());
    }

    private static String value(String[] args, int index) {
        if (index >= args.length) {
            throw new IllegalArgumentException(args[index - 1] + " needs a value");
        }
        return args[index];
    }

    private static int positive(String text, String name) {
        try {
            int value = Integer.parseInt(text.strip());
            if (value > 0) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " expects a positive integer, got '" + text + "'");
    }

    /** The port the session listens on (loopback only). */
    int port() {
        return server.getLocalPort();
    }

    /** The cluster's REST address (its web UI). */
    URI webUi() {
        return webUi;
    }

    /** The secret a request must carry, as written to the token file. */
    String token() {
        return HexFormat.of().formatHex(token);
    }

    private void writeFiles(int slots) throws IOException {
        Files.createDirectories(dir);
        Path tokenFile = dir.resolve("token");
        Path tokenTmp = dir.resolve("token.tmp");
        Files.deleteIfExists(tokenTmp);
        Files.createFile(tokenTmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tokenTmp, token(), StandardOpenOption.TRUNCATE_EXISTING);
        Files.move(tokenTmp, tokenFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Map<String, Object> description = new LinkedHashMap<>();
        description.put("pid", ProcessHandle.current().pid());
        description.put("port", port());
        description.put("web_ui", webUi.toString());
        description.put("slots", slots);
        description.put("idle_timeout_s", idleTimeout.toSeconds());
        Path tmp = dir.resolve("session.json.tmp");
        Files.writeString(tmp, Events.toJson(description, false));
        Files.move(tmp, dir.resolve("session.json"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Removes the files, if they still describe this session. */
    private void removeFiles() {
        Path description = dir.resolve("session.json");
        try {
            JsonNode written = JSON.readTree(Files.readString(description));
            if (written.path("pid").asLong() == ProcessHandle.current().pid()) {
                Files.deleteIfExists(description);
                Files.deleteIfExists(dir.resolve("token"));
            }
        } catch (IOException e) {
            // already gone, or not ours
        }
    }

    private void accept() {
        while (!stopped.get()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (!stopped.get()) {
                    System.err.println("warning: the session stopped accepting runs: " + e.getMessage());
                    stop();
                }
                return;
            }
            Thread thread = new Thread(() -> serve(socket), "flinkit-session-run");
            thread.setDaemon(true);
            thread.start();
        }
    }

    private void watchIdle() {
        while (!stopped.get()) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            long idle = System.nanoTime() - lastActivity.get();
            if (active.get() == 0 && idle > idleTimeout.toNanos()) {
                System.err.println("flinkit local session: idle for " + idleTimeout.toSeconds() + " s; stopping");
                stop();
            }
        }
    }

    private void serve(Socket socket) {
        active.incrementAndGet();
        try (socket) {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout((int) FIRST_LINE_TIMEOUT.toMillis());
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            Channel channel = new Channel(new BufferedWriter(
                    new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8)));
            JsonNode request = readRequest(in.readLine());
            if (request == null || !authentic(request.path("token").asText(""))) {
                channel.line('e', "error: not a request of this session's owner (wrong or missing token)");
                channel.exit(2);
                return;
            }
            if (request.path("stop").asBoolean(false)) {
                channel.exit(0);
                stop();
                return;
            }
            List<String> args = new ArrayList<>();
            request.path("run").forEach(arg -> args.add(arg.asText()));
            socket.setSoTimeout(0);
            Run run = new Run(channel);
            Thread watcher = new Thread(() -> run.watch(in), "flinkit-session-cancel");
            watcher.setDaemon(true);
            watcher.start();
            int code = SqlRunner.run(args.toArray(String[]::new), run.out, run.err, run::executor);
            run.finish();
            channel.exit(code);
        } catch (IOException e) {
            // the client went away; its job was cancelled by the watcher
        } finally {
            lastActivity.set(System.nanoTime());
            active.decrementAndGet();
        }
    }

    private static JsonNode readRequest(String line) {
        if (line == null) {
            return null;
        }
        try {
            JsonNode node = JSON.readTree(line);
            return node != null && node.isObject() ? node : null;
        } catch (IOException e) {
            return null;
        }
    }

    private boolean authentic(String given) {
        return MessageDigest.isEqual(token().getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.US_ASCII));
    }

    /** Stops the session and calls {@code onStop}. */
    void stop() {
        close();
        onStop.run();
    }

    /** Cancels every run, stops the cluster and removes the session's files. */
    @Override
    public void close() {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        removeFiles();
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        try {
            cluster.close();
        } catch (Exception e) {
            System.err.println("warning: the session's MiniCluster did not shut down cleanly: "
                    + ErrorMessages.describeWithType(e));
        }
        System.setOut(originalOut);
    }

    /** One request's run: its output streams and its job. */
    private final class Run {
        private final Channel channel;
        private final PrintStream out;
        private final PrintStream err;
        private LocalMiniClusterExecutor executor;
        private JobID jobId;
        private boolean cancelled;
        private boolean finished;

        Run(Channel channel) {
            this.channel = channel;
            this.out = new PrintStream(new LineOutput(channel, 'o'), true, StandardCharsets.UTF_8);
            this.err = new PrintStream(new LineOutput(channel, 'e'), true, StandardCharsets.UTF_8);
        }

        synchronized LocalMiniClusterExecutor executor(Configuration configuration, Consumer<URI> webUiListener) {
            executor = new LocalMiniClusterExecutor(cluster, configuration, webUiListener, this::submitted);
            if (cancelled) {
                executor.cancel();
            }
            return executor;
        }

        private synchronized void submitted(JobID id) {
            jobId = id;
            runsByJob.put(id.toString(), this);
        }

        /** Reads the client's lines: {@code cancel}, or the end of the connection, cancels. */
        void watch(BufferedReader in) {
            try {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.strip().equals("cancel")) {
                        break;
                    }
                }
            } catch (IOException e) {
                // the connection is gone: cancel
            }
            cancel();
        }

        void cancel() {
            LocalMiniClusterExecutor toCancel;
            synchronized (this) {
                if (finished) {
                    return;
                }
                cancelled = true;
                toCancel = executor;
            }
            if (toCancel != null) {
                toCancel.cancel();
            }
        }

        void finish() {
            out.flush();
            err.flush();
            synchronized (this) {
                finished = true;
                if (jobId != null) {
                    runsByJob.remove(jobId.toString(), this);
                }
            }
        }
    }

    /** Writes the lines of one connection, each tagged with its stream. */
    private static final class Channel {
        private final Writer writer;
        private boolean broken;

        Channel(Writer writer) {
            this.writer = writer;
        }

        synchronized void line(char stream, String text) {
            if (broken) {
                return;
            }
            try {
                writer.write(stream);
                writer.write(' ');
                writer.write(text);
                writer.write('\n');
                writer.flush();
            } catch (IOException e) {
                broken = true;
            }
        }

        void exit(int code) {
            line('x', Integer.toString(code));
        }
    }

    /** An output stream that hands each complete line to a channel. */
    private static final class LineOutput extends OutputStream {
        private final Channel channel;
        private final char stream;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        LineOutput(Channel channel, char stream) {
            this.channel = channel;
            this.stream = stream;
        }

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                String line = pending.toString(StandardCharsets.UTF_8);
                pending.reset();
                channel.line(stream, line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
            } else {
                pending.write(b);
            }
        }

        @Override
        public synchronized void close() {
            if (pending.size() > 0) {
                write('\n');
            }
        }
    }

    /**
     * The JVM's stdout while the session runs: a line written by a task thread goes to the run of
     * that task's job (a {@code print} sink's rows), any other line to the session's own stdout.
     */
    private final class RoutedOutput extends OutputStream {
        private final ThreadLocal<ByteArrayOutputStream> pending =
                ThreadLocal.withInitial(ByteArrayOutputStream::new);

        @Override
        public void write(int b) {
            ByteArrayOutputStream line = pending.get();
            if (b != '\n') {
                line.write(b);
                return;
            }
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            String job = MDC.get(MdcUtils.JOB_ID);
            Run run = job == null ? null : runsByJob.get(job);
            if (run != null) {
                run.channel.line('o', text);
            } else {
                originalOut.println(text);
            }
        }

        @Override
        public void write(byte[] bytes, int offset, int length) {
            for (int i = offset; i < offset + length; i++) {
                write(bytes[i]);
            }
        }
    }
}
