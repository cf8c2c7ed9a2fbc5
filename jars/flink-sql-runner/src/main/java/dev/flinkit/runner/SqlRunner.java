package dev.flinkit.runner;

import dev.flinkit.runner.RunnerOptions.Mode;
import dev.flinkit.runner.RunnerOptions.WaitMode;
import dev.flinkit.runner.SqlStatement.Kind;

import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.DeploymentOptions;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.LocalStreamEnvironment;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableConfig;
import org.apache.flink.table.api.TableException;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.CloseableIterator;

import java.io.PrintStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * flinkit's generic Flink SQL job: runs a script of SQL statements as exactly one Flink job.
 *
 * <p>SET and RESET statements change the table configuration, DDL and the other statements run
 * in order, and every INSERT (also those of statement sets) joins one {@link StatementSet}, which
 * becomes the job. Progress is reported as JSON events on stdout (see {@link Events}); the exit
 * code is 0 on success, 1 when the job fails or cannot be submitted, and 2 for bad arguments or
 * bad SQL.
 *
 * <p>Run with plain {@code java}, it executes the job on an embedded MiniCluster and waits for
 * it. Submitted to a Flink cluster (REST {@code /jars/:id/run} or {@code flink run}), it
 * submits the job to that cluster and returns; there it never calls {@link System#exit}, and a
 * failure is thrown as an exception instead.
 */
public final class SqlRunner {

    /** The log4j2 configuration used when the runner is the JVM's main class. */
    private static final String LOCAL_LOG_CONFIG = "classpath:flinkit-runner-log4j2.properties";

    private static final long STATUS_POLL_MILLIS = 250;
    private static final long FINAL_STATUS_TIMEOUT_SECONDS = 10;
    private static final String SUBMISSION_FAILED = "Failed to execute sql";

    private final PrintStream out;
    private final PrintStream err;
    private final Events events;
    private final ClassLoader classLoader = SqlRunner.class.getClassLoader();
    private final SharedCluster shared;

    private SqlRunner(PrintStream out, PrintStream err, SharedCluster shared) {
        this.out = out;
        this.err = err;
        this.events = new Events(out);
        this.shared = shared;
    }

    /** A running MiniCluster that runs are submitted to instead of one of their own. */
    @FunctionalInterface
    interface SharedCluster {
        /**
         * An executor that submits a run's job to the cluster.
         *
         * @param configuration the job's configuration
         * @param webUiListener told the cluster's REST address when the job is submitted
         */
        LocalMiniClusterExecutor executor(Configuration configuration, Consumer<URI> webUiListener);
    }

    /**
     * The command-line entry point. As the JVM's main class it logs to stderr and exits with the
     * runner's exit code; inside a Flink cluster's client it returns, or throws on failure.
     */
    public static void main(String[] args) {
        boolean entryPoint = isJvmEntryPoint();
        if (entryPoint) {
            configureLocalLogging(args);
        }
        Outcome outcome = new SqlRunner(System.out, System.err, null).execute(args);
        if (entryPoint) {
            System.out.flush();
            System.err.flush();
            System.exit(outcome.exitCode());
        }
        if (outcome.exitCode() != 0) {
            throw new IllegalStateException(outcome.message());
        }
    }

    /**
     * Runs the runner with a command line and returns its exit code, writing events to
     * {@code out} and human-readable messages to {@code err}.
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new SqlRunner(out, err, null).execute(args).exitCode();
    }

    /**
     * Runs the runner as {@link #run} does, but submits the job to {@code cluster} (a
     * {@link LocalSession}'s), which the run neither starts nor stops: the same statements, events,
     * errors and exit codes as a run on a MiniCluster of its own.
     */
    static int run(String[] args, PrintStream out, PrintStream err, SharedCluster cluster) {
        return new SqlRunner(out, err, cluster).execute(args).exitCode();
    }

    /** The exit code of a run and, on failure, its message. */
    private record Outcome(int exitCode, String message) {
        static final Outcome OK = new Outcome(0, null);
    }

    private Outcome execute(String[] args) {
        RunnerOptions options;
        try {
            options = RunnerOptions.parse(args);
        } catch (RunnerException e) {
            return fail(e, false);
        }
        try {
            switch (options.mode()) {
                case HELP:
                    out.print(RunnerOptions.USAGE);
                    return Outcome.OK;
                case DESCRIBE_CONNECTORS:
                    out.println(Events.toJson(ConnectorCatalog.describe(classLoader), true));
                    return Outcome.OK;
                default:
                    return runScript(options);
            }
        } catch (RunnerException e) {
            return fail(e, options.verbose());
        } catch (RuntimeException e) {
            return fail(RunnerException.fromFlink(RunnerException.Kind.RUNTIME, null, e), options.verbose());
        }
    }

    private Outcome runScript(RunnerOptions options) throws RunnerException {
        List<SqlStatement> statements = classify(options.statements());
        List<Integer> insertStatements = checkJobShape(statements);
        Configuration configuration = environmentConfiguration(options, statements);

        StreamExecutionEnvironment contextEnv = StreamExecutionEnvironment.getExecutionEnvironment(configuration);
        boolean local = shared != null || contextEnv instanceof LocalStreamEnvironment;
        if (local && options.waitMode() == WaitMode.DETACH) {
            throw RunnerException.usage(
                    "--detach needs a Flink cluster: an embedded MiniCluster lives only as long as the runner");
        }
        LocalMiniClusterExecutor executor = null;
        StreamExecutionEnvironment env = contextEnv;
        if (local) {
            configuration.set(DeploymentOptions.TARGET, "local");
            configuration.set(DeploymentOptions.ATTACHED, true);
            Consumer<URI> webUi = uri -> events.emit("web_ui", "url", uri.toString());
            executor = shared == null
                    ? new LocalMiniClusterExecutor(configuration, webUi)
                    : shared.executor(configuration, webUi);
            env = new StreamExecutionEnvironment(executor, configuration, classLoader);
        }
        try {
            StreamTableEnvironment tableEnv = createTableEnvironment(env, configuration);
            StatementSet statementSet = compile(statements, tableEnv, options.jobName());
            Integer blamed = insertStatements.size() == 1 ? insertStatements.get(0) : null;

            if (options.mode() == Mode.EXPLAIN) {
                events.emit("plan", "plan", explain(statementSet, blamed), "statements", insertStatements);
                return Outcome.OK;
            }

            JobClient client = submit(statementSet, blamed);
            String jobId = client.getJobID().toString();
            String jobName = local
                    ? executor.jobName()
                    : tableEnv.getConfig().getOptional(PipelineOptions.NAME).orElse(null);
            events.emit("submitted", "job_id", jobId, "job_name", jobName, "statements", insertStatements);
            boolean wait = options.waitMode() == WaitMode.WAIT
                    || (options.waitMode() == WaitMode.DEFAULT && local);
            return wait ? await(client, jobId, options.verbose()) : Outcome.OK;
        } finally {
            if (executor != null) {
                closeCluster(executor);
            }
        }
    }

    private static List<SqlStatement> classify(List<String> texts) throws RunnerException {
        List<SqlStatement> statements = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            statements.add(SqlStatement.classify(i, texts.get(i)));
        }
        return statements;
    }

    /**
     * Checks that the script makes exactly one job: no bare queries, at least one INSERT.
     *
     * @return the indices of the statements that contribute INSERTs
     */
    private static List<Integer> checkJobShape(List<SqlStatement> statements) throws RunnerException {
        List<Integer> inserts = new ArrayList<>();
        for (SqlStatement statement : statements) {
            if (statement.kind() == Kind.QUERY) {
                throw RunnerException.sql(
                        statement.index(),
                        "a bare query (SELECT, WITH or VALUES) has nowhere to write its rows: the runner"
                                + " only runs INSERT jobs; write it as INSERT INTO <sink table> SELECT ...");
            }
            if (statement.kind() == Kind.INSERT) {
                inserts.add(statement.index());
            }
        }
        if (inserts.isEmpty()) {
            throw RunnerException.sql(
                    null, "the script has no INSERT statement, so there is no job to run");
        }
        return inserts;
    }

    /**
     * The configuration of the execution environment: {@code --conf}, {@code --parallelism}, and
     * the runtime mode the script ends up with, which Flink needs before the first statement.
     */
    private static Configuration environmentConfiguration(RunnerOptions options, List<SqlStatement> statements)
            throws RunnerException {
        Configuration configuration = new Configuration();
        options.conf().forEach(configuration::setString);
        if (options.parallelism() != null) {
            configuration.set(CoreOptions.DEFAULT_PARALLELISM, options.parallelism());
        }
        String modeKey = ExecutionOptions.RUNTIME_MODE.key();
        String mode = options.conf().get(modeKey);
        Integer modeStatement = null;
        for (SqlStatement statement : statements) {
            if (statement.kind() == Kind.SET && statement.key().equals(modeKey)) {
                mode = statement.value();
                modeStatement = statement.index();
            } else if (statement.kind() == Kind.RESET && (statement.key() == null || statement.key().equals(modeKey))) {
                mode = options.conf().get(modeKey);
                modeStatement = null;
            }
        }
        if (mode != null) {
            configuration.setString(modeKey, mode);
            try {
                RuntimeExecutionMode parsed = configuration.get(ExecutionOptions.RUNTIME_MODE);
                configuration.set(ExecutionOptions.RUNTIME_MODE, parsed);
            } catch (IllegalArgumentException e) {
                String message = "invalid value '" + mode + "' for " + modeKey + ": expected streaming, batch or automatic";
                if (modeStatement == null) {
                    throw RunnerException.usage(message);
                }
                throw RunnerException.sql(modeStatement, message);
            }
        }
        return configuration;
    }

    private StreamTableEnvironment createTableEnvironment(StreamExecutionEnvironment env, Configuration configuration)
            throws RunnerException {
        registerJdbcDrivers(classLoader);
        try {
            EnvironmentSettings settings = EnvironmentSettings.newInstance()
                    .withConfiguration(configuration)
                    .withClassLoader(classLoader)
                    .build();
            return StreamTableEnvironment.create(env, settings);
        } catch (IllegalArgumentException | IllegalConfigurationException e) {
            throw RunnerException.fromFlink(RunnerException.Kind.USAGE, null, e);
        }
    }

    /**
     * Applies the statements in order and gathers every INSERT into one statement set.
     *
     * @param jobName the name given by {@code --job-name}, which wins over the script's SETs
     */
    private StatementSet compile(List<SqlStatement> statements, StreamTableEnvironment tableEnv, String jobName)
            throws RunnerException {
        TableConfig config = tableEnv.getConfig();
        StatementSet statementSet = tableEnv.createStatementSet();
        Set<String> setKeys = new HashSet<>();
        for (SqlStatement statement : statements) {
            try {
                switch (statement.kind()) {
                    case SET:
                        config.set(statement.key(), statement.value());
                        setKeys.add(statement.key());
                        break;
                    case RESET:
                        if (statement.key() == null) {
                            setKeys.forEach(config.getConfiguration()::removeKey);
                            setKeys.clear();
                        } else {
                            config.getConfiguration().removeKey(statement.key());
                            setKeys.remove(statement.key());
                        }
                        break;
                    case INSERT:
                        statement.inserts().forEach(statementSet::addInsertSql);
                        break;
                    case INFO:
                        printResult(tableEnv.executeSql(statement.sql()));
                        break;
                    case EXECUTE:
                        tableEnv.executeSql(statement.sql());
                        break;
                    default:
                        break;
                }
            } catch (RuntimeException e) {
                throw RunnerException.fromFlink(RunnerException.Kind.SQL, statement.index(), e);
            }
        }
        if (jobName != null) {
            config.set(PipelineOptions.NAME, jobName);
        }
        return statementSet;
    }

    private void printResult(TableResult result) {
        try (CloseableIterator<Row> rows = result.collect()) {
            rows.forEachRemaining(row -> err.println(row));
        } catch (Exception e) {
            throw new TableException("cannot read the statement's result", e);
        }
    }

    private static String explain(StatementSet statementSet, Integer blamed) throws RunnerException {
        try {
            return statementSet.explain();
        } catch (RuntimeException e) {
            throw RunnerException.fromFlink(RunnerException.Kind.SQL, blamed, e);
        }
    }

    /**
     * Plans and submits the job. Planning errors are SQL errors; Flink wraps a failed submission
     * in a {@link TableException} with a fixed message, which makes it a runtime error.
     */
    /**
     * Loads the JDBC drivers the job's jars carry, so that each registers itself with
     * {@link java.sql.DriverManager}: on a cluster the jars are on the job's class loader, which
     * {@code DriverManager}'s own discovery (the system class loader's) never sees, and a JDBC
     * catalog asks {@code DriverManager} for its connection ("No suitable driver found").
     */
    private static void registerJdbcDrivers(ClassLoader loader) {
        java.util.Iterator<java.sql.Driver> drivers =
                java.util.ServiceLoader.load(java.sql.Driver.class, loader).iterator();
        while (true) {
            try {
                if (!drivers.hasNext()) {
                    return;
                }
                drivers.next();
            } catch (java.util.ServiceConfigurationError | LinkageError e) {
                // A driver that cannot load is one the script does not use; Flink reports the
                // one it needs when it connects.
            }
        }
    }

    private static JobClient submit(StatementSet statementSet, Integer blamed) throws RunnerException {
        TableResult result;
        try {
            result = statementSet.execute();
        } catch (TableException e) {
            boolean submissionFailed = SUBMISSION_FAILED.equals(e.getMessage()) && e.getCause() != null;
            throw RunnerException.fromFlink(
                    submissionFailed ? RunnerException.Kind.RUNTIME : RunnerException.Kind.SQL,
                    submissionFailed ? null : blamed,
                    e);
        } catch (RuntimeException e) {
            throw RunnerException.fromFlink(RunnerException.Kind.SQL, blamed, e);
        }
        return result.getJobClient()
                .orElseThrow(() -> new IllegalStateException("Flink returned no job client for the submitted job"));
    }

    /** Waits for the job to end, reporting each change of its state. */
    private Outcome await(JobClient client, String jobId, boolean verbose) {
        CompletableFuture<?> result = client.getJobExecutionResult();
        JobStatus reported = null;
        while (true) {
            try {
                result.get(STATUS_POLL_MILLIS, TimeUnit.MILLISECONDS);
                events.emit("finished", "job_id", jobId, "state", JobStatus.FINISHED.name());
                return Outcome.OK;
            } catch (TimeoutException e) {
                reported = reportState(client, jobId, reported);
            } catch (ExecutionException e) {
                return jobFailed(client, jobId, e.getCause(), verbose);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return jobFailed(client, jobId, e, verbose);
            }
        }
    }

    private JobStatus reportState(JobClient client, String jobId, JobStatus reported) {
        JobStatus status;
        try {
            status = client.getJobStatus().get(FINAL_STATUS_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return reported;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return reported;
        }
        if (status != reported && !status.isGloballyTerminalState()) {
            events.emit("state", "job_id", jobId, "state", status.name());
            return status;
        }
        return reported;
    }

    private Outcome jobFailed(JobClient client, String jobId, Throwable cause, boolean verbose) {
        String state = JobStatus.FAILED.name();
        try {
            state = client.getJobStatus().get(FINAL_STATUS_TIMEOUT_SECONDS, TimeUnit.SECONDS).name();
        } catch (ExecutionException | TimeoutException e) {
            // the job's final state is unknown: report it as failed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String message = ErrorMessages.describeWithType(cause);
        events.emit("failed", "job_id", jobId, "state", state, "message", message);
        err.println("error: job " + jobId + " " + state + ": " + message);
        if (verbose) {
            cause.printStackTrace(err);
        }
        return new Outcome(1, "job " + jobId + " " + state + ": " + message);
    }

    private Outcome fail(RunnerException error, boolean verbose) {
        events.error(error);
        String where = error.statement() == null ? "" : "statement " + error.statement() + ": ";
        err.println("error: " + where + error.getMessage());
        if (error.context() != null) {
            err.println("  (" + error.context() + ")");
        }
        if (verbose && error.getCause() != null) {
            error.getCause().printStackTrace(err);
        }
        return new Outcome(error.kind().exitCode(), where + error.getMessage());
    }

    private void closeCluster(LocalMiniClusterExecutor executor) {
        try {
            executor.shutdown();
        } catch (Exception e) {
            err.println("warning: the local MiniCluster did not shut down cleanly: "
                    + ErrorMessages.describeWithType(e));
        }
    }

    private static boolean isJvmEntryPoint() {
        String command = System.getProperty("sun.java.command", "");
        String main = SqlRunner.class.getName();
        return command.equals(main) || command.startsWith(main + " ");
    }

    /**
     * Sends Flink's logs to stderr, at WARN (INFO with {@code --verbose}), unless a log4j2
     * configuration was given with {@code -Dlog4j2.configurationFile}.
     */
    static void configureLocalLogging(String[] args) {
        if (System.getProperty("log4j2.configurationFile") == null
                && System.getProperty("log4j.configurationFile") == null) {
            System.setProperty("log4j2.configurationFile", LOCAL_LOG_CONFIG);
        }
        if (System.getProperty("flinkit.log.level") == null) {
            System.setProperty("flinkit.log.level", List.of(args).contains("--verbose") ? "INFO" : "WARN");
        }
    }
}
