package dev.flinkit.runner;

import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.client.deployment.executors.PipelineExecutorUtils;
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
 * Runs the script's job on an embedded {@link MiniCluster} that the runner owns, so that it can
 * report the cluster's REST address (the web UI) and shut the cluster down when it is done.
 *
 * <p>Like Flink's own local executor, it sizes the cluster to the job: one TaskManager with as
 * many slots as the job's highest parallelism, unless {@code taskmanager.numberOfTaskSlots} is
 * configured. The REST endpoint binds a random free port unless {@code rest.port} or
 * {@code rest.bind-port} is configured.
 */
final class LocalMiniClusterExecutor
        implements PipelineExecutorServiceLoader, PipelineExecutorFactory, PipelineExecutor {

    private static final String NAME = "flinkit-local";

    private final Configuration configuration;
    private final Consumer<URI> webUiListener;
    private MiniCluster cluster;
    private String jobName;

    /**
     * Creates an executor.
     *
     * @param configuration the configuration of the cluster
     * @param webUiListener told the cluster's REST address once it is up
     */
    LocalMiniClusterExecutor(Configuration configuration, Consumer<URI> webUiListener) {
        this.configuration = configuration;
        this.webUiListener = webUiListener;
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
        if (cluster != null) {
            throw new IllegalStateException("the runner submits exactly one job per run");
        }
        Configuration effective = new Configuration(configuration);
        effective.addAll(pipelineConfiguration);
        JobGraph jobGraph = PipelineExecutorUtils.getJobGraph(pipeline, effective, userClassLoader);
        jobName = jobGraph.getName();

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
        webUiListener.accept(started.getRestAddress().get());
        return started.submitJob(jobGraph)
                .thenApply(submitted -> new MiniClusterJobClient(
                        submitted.getJobID(),
                        started,
                        userClassLoader,
                        MiniClusterJobClient.JobFinalizationBehavior.NOTHING));
    }

    /** The name of the submitted job, or null before submission. */
    synchronized String jobName() {
        return jobName;
    }

    /** Shuts the cluster down, if one was started. */
    synchronized void shutdown() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }
}
