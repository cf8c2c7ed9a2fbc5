package dev.flinkit.runner;

import java.util.List;
import java.util.stream.Collectors;

import org.apache.flink.api.dag.Pipeline;
import org.apache.flink.client.deployment.executors.PipelineExecutorUtils;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ConfigurationUtils;
import org.apache.flink.runtime.jobgraph.JobGraph;

/**
 * The calls whose Flink API differs between the lines the runner is built for: this copy is
 * Flink 2.x's ({@code src/flink-1.20/java} holds Flink 1.20's, chosen by the build's
 * {@code flink.line} property).
 */
final class FlinkLine {
    private FlinkLine() {}

    /**
     * An option's value as written in a {@code WITH} clause: a list's elements joined by
     * {@code ;}, as Flink 1.20 writes them (Flink 2's own conversion writes YAML, {@code [a, b]}).
     */
    static String asString(Object value) {
        if (value instanceof List<?> list) {
            return list.stream()
                    .map(element -> ConfigurationUtils.<String>convertValue(element, String.class))
                    .collect(Collectors.joining(";"));
        }
        return ConfigurationUtils.convertValue(value, String.class);
    }

    /** The job graph of a pipeline the table environment built. */
    static JobGraph jobGraph(Pipeline pipeline, Configuration configuration, ClassLoader classLoader)
            throws Exception {
        return PipelineExecutorUtils.getStreamGraph(pipeline, configuration).getJobGraph(classLoader);
    }
}
