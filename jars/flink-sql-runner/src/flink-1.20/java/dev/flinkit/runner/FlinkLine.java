package dev.flinkit.runner;

import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.client.deployment.executors.PipelineExecutorUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ConfigurationUtils;
import org.apache.flink.runtime.jobgraph.JobGraph;

/**
 * The calls whose Flink API differs between the lines the runner is built for: this copy is
 * Flink 1.20's ({@code src/flink-2/java} holds Flink 2.x's, chosen by the build's
 * {@code flink.line} property).
 */
final class FlinkLine {
    private FlinkLine() {}

    /** An option's value as written in a {@code WITH} clause. */
    static String asString(Object value) {
        return ConfigurationUtils.convertValue(value, String.class, false);
    }

    /** The job graph of a pipeline the table environment built. */
    static JobGraph jobGraph(Pipeline pipeline, Configuration configuration, ClassLoader classLoader)
            throws Exception {
        return PipelineExecutorUtils.getJobGraph(pipeline, configuration, classLoader);
    }
}
