package dev.flinkit.runner;

import java.util.IdentityHashMap;
import java.util.Map;

/** Turns Flink's chains of exceptions into one short message for the user. */
final class ErrorMessages {

    /** Calcite's parse errors list every token it expected after this line. */
    private static final String EXPECTED_TOKENS = "\nWas expecting";

    /** Lists of expected tokens up to this many lines are short enough to keep. */
    private static final int MAX_EXPECTED_LINES = 6;

    private ErrorMessages() {}

    /** The innermost cause of {@code error}, stopping at a cycle. */
    static Throwable rootCause(Throwable error) {
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        Throwable current = error;
        while (current.getCause() != null && seen.put(current, Boolean.TRUE) == null) {
            current = current.getCause();
        }
        return current;
    }

    /**
     * The message of the root cause of {@code error}. For parse errors, a long list of expected
     * tokens is cut off. A cause without a message is named by its class.
     */
    static String describe(Throwable error) {
        Throwable root = rootCause(error);
        String message = root.getMessage();
        if (message == null || message.isBlank()) {
            return root.getClass().getName();
        }
        return shortenExpectedTokens(message.strip());
    }

    /**
     * The message of the root cause prefixed by its class's simple name, for failures of a
     * running job, where the class ({@code TimeoutException}, {@code IOException} …) tells much.
     */
    static String describeWithType(Throwable error) {
        Throwable root = rootCause(error);
        String message = root.getMessage();
        String type = root.getClass().getSimpleName();
        return message == null || message.isBlank() ? type : type + ": " + message.strip();
    }

    /**
     * The first line of the outermost message when it says something the root cause does not
     * (such as which table failed to be created), or null.
     */
    static String context(Throwable error) {
        String outer = error.getMessage();
        if (outer == null || outer.isBlank() || rootCause(error) == error) {
            return null;
        }
        String firstLine = outer.strip().lines().findFirst().orElse("");
        String root = describe(error);
        if (firstLine.isEmpty() || root.contains(firstLine) || firstLine.contains(root)) {
            return null;
        }
        return firstLine;
    }

    private static String shortenExpectedTokens(String message) {
        int expected = message.indexOf(EXPECTED_TOKENS);
        if (expected < 0) {
            return message;
        }
        String head = message.substring(0, expected).strip();
        String tail = message.substring(expected + 1).strip();
        if (tail.lines().count() > MAX_EXPECTED_LINES) {
            return head;
        }
        return head + " " + String.join(" ", tail.lines().map(String::strip).toList());
    }
}
