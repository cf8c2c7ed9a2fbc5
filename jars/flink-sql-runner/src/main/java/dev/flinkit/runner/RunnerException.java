package dev.flinkit.runner;

/**
 * A failure the runner reports as an {@code error} event and an exit code.
 *
 * <p>The message is the one shown to the user; the cause, if any, is only printed with
 * {@code --verbose}.
 */
final class RunnerException extends Exception {

    private static final long serialVersionUID = 1L;

    /** What went wrong, which decides the exit code. */
    enum Kind {
        /** Bad command-line arguments: exit code 2. */
        USAGE("usage", 2),
        /** SQL that does not parse, validate or plan: exit code 2. */
        SQL("sql", 2),
        /** The job could not be submitted, or failed: exit code 1. */
        RUNTIME("runtime", 1);

        private final String label;
        private final int exitCode;

        Kind(String label, int exitCode) {
            this.label = label;
            this.exitCode = exitCode;
        }

        /** The value of the {@code kind} field of the error event. */
        String label() {
            return label;
        }

        /** The process exit code for this kind of failure. */
        int exitCode() {
            return exitCode;
        }
    }

    private final Kind kind;
    private final Integer statement;
    private final String context;

    /**
     * Creates an exception.
     *
     * @param kind what went wrong
     * @param statement 0-based index of the statement at fault, or null if none is
     * @param message the message shown to the user
     * @param context the outer message of a chain of causes when it adds to {@code message}, or
     *     null
     * @param cause the original exception, or null
     */
    RunnerException(Kind kind, Integer statement, String message, String context, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.statement = statement;
        this.context = context;
    }

    /** A usage error about the command line. */
    static RunnerException usage(String message) {
        return new RunnerException(Kind.USAGE, null, message, null, null);
    }

    /** An error in statement {@code statement} that the runner itself detected. */
    static RunnerException sql(Integer statement, String message) {
        return new RunnerException(Kind.SQL, statement, message, null, null);
    }

    /** An error of kind {@code kind} raised by Flink, described by its causes. */
    static RunnerException fromFlink(Kind kind, Integer statement, Throwable cause) {
        return new RunnerException(
                kind,
                statement,
                ErrorMessages.describe(cause),
                ErrorMessages.context(cause),
                cause);
    }

    Kind kind() {
        return kind;
    }

    /** 0-based index of the statement at fault, or null. */
    Integer statement() {
        return statement;
    }

    /** The outer message of the chain of causes, when it adds to the message; or null. */
    String context() {
        return context;
    }
}
