package dev.flinkit.runner;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed command line of the runner.
 *
 * @param mode what to do
 * @param statements the statements of the script, in order
 * @param jobName the job name ({@code pipeline.name}), overriding any SET of it; or null
 * @param verbose whether to print Flink's logs at INFO and full stack traces
 * @param conf Flink configuration for the execution environment, in the order given
 * @param parallelism the default parallelism, or null
 * @param waitMode whether to wait for the job to finish
 */
record RunnerOptions(
        Mode mode,
        List<String> statements,
        String jobName,
        boolean verbose,
        Map<String, String> conf,
        Integer parallelism,
        WaitMode waitMode) {

    /** What the runner does. */
    enum Mode {
        /** Submit the script as one job. */
        RUN,
        /** Print the plan of the script's job without running it. */
        EXPLAIN,
        /** Print the catalog of connectors and formats on the classpath. */
        DESCRIBE_CONNECTORS,
        /** Print the usage. */
        HELP
    }

    /** Whether the runner waits for the job to finish. */
    enum WaitMode {
        /** Wait when running on an embedded MiniCluster, return after submission otherwise. */
        DEFAULT,
        /** Always wait ({@code --wait}). */
        WAIT,
        /** Return after submission ({@code --detach}); not possible on a MiniCluster. */
        DETACH
    }

    /** The usage text printed by {@code --help}. */
    static final String USAGE = String.join(
            "\n",
            "Usage: java -cp flink-sql-runner.jar:<flink jars> dev.flinkit.runner.SqlRunner [OPTIONS] [STATEMENT]...",
            "",
            "Runs a script of Flink SQL statements as exactly one Flink job.",
            "",
            "Statements (concatenated in the order given):",
            "  STATEMENT                  one whole statement per argument",
            "  --statements-file PATH     a JSON array of statements",
            "  --statements-b64 B64       the same JSON array, base64-encoded (standard alphabet)",
            "",
            "Options:",
            "  --job-name NAME            job name (pipeline.name), overriding any SET of it",
            "  --conf KEY=VALUE           Flink configuration for the environment (repeatable)",
            "  --parallelism N            default parallelism (parallelism.default)",
            "  --explain                  print the job's plan instead of running it",
            "  --describe-connectors      print the connectors and formats on the classpath as JSON",
            "  --wait                     wait for the job to finish (the default on a local MiniCluster)",
            "  --detach                   return once the job is submitted (not on a local MiniCluster)",
            "  --verbose                  Flink logs at INFO, full stack traces on errors",
            "  --help                     print this text",
            "  --                         every later argument is a statement",
            "",
            "Exit codes: 0 ok, 1 job or submission failed, 2 bad arguments or SQL.",
            "");

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Parses a command line.
     *
     * <p>An argument starting with {@code --} is an option (also as {@code --name=value}) unless
     * there is whitespace before its first {@code =}: then it is a statement, such as one that
     * starts with a {@code --} comment. An option that is none of the above is an error.
     *
     * @throws RunnerException of kind USAGE if the command line is invalid
     */
    static RunnerOptions parse(String[] args) throws RunnerException {
        Mode mode = Mode.RUN;
        List<String> statements = new ArrayList<>();
        String jobName = null;
        boolean verbose = false;
        Map<String, String> conf = new LinkedHashMap<>();
        Integer parallelism = null;
        boolean wait = false;
        boolean detach = false;
        boolean optionsEnded = false;

        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (optionsEnded || !isOption(arg)) {
                statements.add(arg);
                continue;
            }
            int equals = arg.indexOf('=');
            String name = equals < 0 ? arg : arg.substring(0, equals);
            String inlineValue = equals < 0 ? null : arg.substring(equals + 1);
            switch (name) {
                case "--":
                    optionsEnded = true;
                    break;
                case "--statements-file": {
                    String path = inlineValue != null ? inlineValue : value(args, ++i, name);
                    statements.addAll(readStatementsFile(path));
                    break;
                }
                case "--statements-b64": {
                    String encoded = inlineValue != null ? inlineValue : value(args, ++i, name);
                    statements.addAll(decodeStatements(encoded));
                    break;
                }
                case "--job-name":
                    jobName = inlineValue != null ? inlineValue : value(args, ++i, name);
                    if (jobName.isBlank()) {
                        throw RunnerException.usage("--job-name must not be empty");
                    }
                    break;
                case "--conf": {
                    String entry = inlineValue != null ? inlineValue : value(args, ++i, name);
                    int separator = entry.indexOf('=');
                    if (separator <= 0) {
                        throw RunnerException.usage(
                                "--conf expects KEY=VALUE, got '" + entry + "'");
                    }
                    conf.put(entry.substring(0, separator).strip(), entry.substring(separator + 1).strip());
                    break;
                }
                case "--parallelism":
                    parallelism = parsePositive(
                            inlineValue != null ? inlineValue : value(args, ++i, name), name);
                    break;
                case "--verbose":
                    verbose = flag(name, inlineValue);
                    break;
                case "--explain":
                    flag(name, inlineValue);
                    mode = chooseMode(mode, Mode.EXPLAIN);
                    break;
                case "--describe-connectors":
                    flag(name, inlineValue);
                    mode = chooseMode(mode, Mode.DESCRIBE_CONNECTORS);
                    break;
                case "--help":
                    flag(name, inlineValue);
                    mode = Mode.HELP;
                    break;
                case "--wait":
                    wait = flag(name, inlineValue);
                    break;
                case "--detach":
                    detach = flag(name, inlineValue);
                    break;
                default:
                    throw RunnerException.usage("unknown option " + name + " (see --help)");
            }
        }

        if (wait && detach) {
            throw RunnerException.usage("--wait and --detach exclude each other");
        }
        if (mode == Mode.DESCRIBE_CONNECTORS && !statements.isEmpty()) {
            throw RunnerException.usage("--describe-connectors takes no statements");
        }
        if ((mode == Mode.RUN || mode == Mode.EXPLAIN) && statements.isEmpty()) {
            throw RunnerException.usage("no statements given (see --help)");
        }
        WaitMode waitMode = wait ? WaitMode.WAIT : detach ? WaitMode.DETACH : WaitMode.DEFAULT;
        return new RunnerOptions(
                mode,
                List.copyOf(statements),
                jobName,
                verbose,
                Collections.unmodifiableMap(conf),
                parallelism,
                waitMode);
    }

    /** Parses a JSON array of strings, the content of a statements file. */
    static List<String> parseStatementsJson(String json, String source) throws RunnerException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw RunnerException.usage(
                    source + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isArray()) {
            throw RunnerException.usage(source + ": expected a JSON array of strings");
        }
        List<String> statements = new ArrayList<>();
        for (JsonNode element : root) {
            if (!element.isTextual()) {
                throw RunnerException.usage(
                        source + ": expected a JSON array of strings, found " + element.getNodeType());
            }
            statements.add(element.textValue());
        }
        return statements;
    }

    private static boolean isOption(String arg) {
        int equals = arg.indexOf('=');
        String name = equals < 0 ? arg : arg.substring(0, equals);
        return name.startsWith("--") && name.chars().noneMatch(Character::isWhitespace);
    }

    private static String value(String[] args, int index, String name) throws RunnerException {
        if (index >= args.length) {
            throw RunnerException.usage(name + " needs a value");
        }
        return args[index];
    }

    private static boolean flag(String name, String inlineValue) throws RunnerException {
        if (inlineValue != null) {
            throw RunnerException.usage(name + " takes no value");
        }
        return true;
    }

    private static Mode chooseMode(Mode current, Mode requested) throws RunnerException {
        if (current != Mode.RUN && current != requested) {
            throw RunnerException.usage("--explain and --describe-connectors exclude each other");
        }
        return requested;
    }

    private static int parsePositive(String text, String name) throws RunnerException {
        try {
            int value = Integer.parseInt(text.strip());
            if (value > 0) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw RunnerException.usage(name + " expects a positive integer, got '" + text + "'");
    }

    private static List<String> readStatementsFile(String path) throws RunnerException {
        String json;
        try {
            json = Files.readString(Path.of(path), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw RunnerException.usage(
                    "--statements-file: cannot read " + path + ": " + ErrorMessages.describeWithType(e));
        }
        return parseStatementsJson(json, "--statements-file " + path);
    }

    private static List<String> decodeStatements(String encoded) throws RunnerException {
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(encoded.strip());
        } catch (IllegalArgumentException e) {
            throw RunnerException.usage("--statements-b64: not valid base64: " + e.getMessage());
        }
        return parseStatementsJson(new String(bytes, StandardCharsets.UTF_8), "--statements-b64");
    }
}
