package dev.flinkit.runner;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.PipelineExecutor;
import org.apache.flink.core.execution.PipelineExecutorFactory;
import org.apache.flink.core.execution.PipelineExecutorServiceLoader;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.minicluster.MiniClusterJobClient;

import java.net.URI;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Runs the script's job on an embedded {@link MiniCluster}: one the runner owns, so that it can
 * report the cluster's REST address (the web UI) and shut the cluster down when it is done; or
 * the long-lived cluster of a {@link LocalSession}, which outlives the run.
 *
 * <p>Like Flink's own local executor, an owned cluster is sized to the job: one TaskManager with
 * as many slots as the job's highest parallelism, unless {@code taskmanager.numberOfTaskSlots} is
 * configured. The REST endpoint binds a random free port unless {@code rest.port} or
 * {@code rest.bind-port} is configured.
 */
final class LocalMiniClusterExecutor
        implements PipelineExecutorServiceLoader, PipelineExecutorFactory, PipelineExecutor {

    private static final String NAME = "flinkit-local";

    private final Configuration configuration;
    private final Consumer<URI> webUiListener;
    private final boolean owned;
    private final Consumer<JobID> submitListener;
    private MiniCluster cluster;
    private String jobName;
    private JobID jobId;
    private boolean accepted;
    private boolean cancelled;

    /**
     * Creates an executor.
     *
     * @param configuration the configuration of the cluster
     * @param webUiListener told the cluster's REST address once it is up
     */
    LocalMiniClusterExecutor(Configuration configuration, Consumer<URI> webUiListener) {
        this.configuration = configuration;
        this.webUiListener = webUiListener;
        this.owned = true;
        this.submitListener = id -> {};
    }

    /**
     * Creates an executor that submits to {@code shared}, a running cluster it does not own: its
     * configuration is the job's, and {@link #shutdown()} leaves the cluster running.
     *
     * @param shared the running cluster
     * @param configuration the job's configuration
     * @param webUiListener told the cluster's REST address when the job is submitted
     * @param submitListener told the job's id just before it is submitted
     */
    LocalMiniClusterExecutor(
            MiniCluster shared,
            Configuration configuration,
            Consumer<URI> webUiListener,
            Consumer<JobID> submitListener) {
        this.configuration = configuration;
        this.webUiListener = webUiListener;
        this.owned = false;
        this.submitListener = submitListener;
        this.cluster = shared;
    }

    @Override
    public PipelineExecutorFactory getExecutorFactory(Configuration ignored) {
        return this;
    }

    @Override
    public Stream<String> getExecutorNames() {
        return Stream.of(NAME);
    }

    @Override
    public String getName() {
        return NAME;
    }

    @Override
    public boolean isCompatibleWith(Configuration ignored) {
        return true;
    }

    @Override
    public PipelineExecutor getExecutor(Configuration ignored) {
        return this;
    }

    @Override
    public synchronized CompletableFuture<JobClient> execute(
            Pipeline pipeline, Configuration pipelineConfiguration, ClassLoader userClassLoader)
            throws Exception {
        if (jobName != null) {
            throw new IllegalStateException("the runner submits exactly one job per run");
        }
        Configuration effective = new Configuration(configuration);
        effective.addAll(pipelineConfiguration);
        JobGraph jobGraph = FlinkLine.jobGraph(pipeline, effective, userClassLoader);
        jobName = jobGraph.getName();
        MiniCluster target = owned ? startCluster(effective, jobGraph) : cluster;
        webUiListener.accept(target.getRestAddress().get());
        synchronized (this) {
            jobId = jobGraph.getJobID();
        }
        submitListener.accept(jobGraph.getJobID());
        return target.submitJob(jobGraph)
                .thenApply(submitted -> {
                    accepted(target, submitted.getJobID());
                    return new MiniClusterJobClient(
                            submitted.getJobID(),
                            target,
                            userClassLoader,
                            MiniClusterJobClient.JobFinalizationBehavior.NOTHING);
                });
    }

    private MiniCluster startCluster(Configuration effective, JobGraph jobGraph) throws Exception {
        if (!effective.contains(RestOptions.BIND_PORT) && !effective.contains(RestOptions.PORT)) {
            effective.set(RestOptions.BIND_PORT, "0");
        }
        int slots = effective.getOptional(TaskManagerOptions.NUM_TASK_SLOTS)
                .orElse(Math.max(1, jobGraph.getMaximumParallelism()));
        MiniCluster started = new MiniCluster(new MiniClusterConfiguration.Builder()
                .setConfiguration(effective)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(slots)
                .build());
        cluster = started;
        started.start();
        return started;
    }

    /** The cluster accepted the job: a job whose run was cancelled meanwhile is cancelled now. */
    private void accepted(MiniCluster target, JobID id) {
        boolean cancelNow;
        synchronized (this) {
            accepted = true;
            cancelNow = cancelled;
        }
        if (cancelNow) {
            target.cancelJob(id);
        }
    }

    /**
     * Cancels the run's job: at once if the cluster accepted it, else as soon as it does.
     */
    void cancel() {
        JobID id;
        MiniCluster target;
        synchronized (this) {
            cancelled = true;
            id = accepted ? jobId : null;
            target = cluster;
        }
        if (id != null && target != null) {
            target.cancelJob(id);
        }
    }

    /** The name of the submitted job, or null before submission. */
    synchronized String jobName() {
        return jobName;
    }

    /** Shuts the cluster down, if this executor started it. */
    synchronized void shutdown() throws Exception {
        if (owned && cluster != null) {
            cluster.close();
        }
    }
}
