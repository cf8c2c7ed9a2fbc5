package dev.flinkit.runner;

import dev.flinkit.runner.SqlLexer.Token;

import java.util.ArrayList;
import java.util.List;

/**
 * One statement of a script, classified by its leading keywords.
 *
 * @param index 0-based position of the statement in the script
 * @param kind what the runner does with it
 * @param sql the statement to execute, without its trailing semicolon (null for SET and RESET)
 * @param inserts the INSERT statements it contributes to the job: one for an INSERT, all of
 *     them for a statement set, none otherwise
 * @param key the key of a SET, or of a RESET of one key; null otherwise
 * @param value the value of a SET; null otherwise
 */
record SqlStatement(int index, Kind kind, String sql, List<String> inserts, String key, String value) {

    /** What the runner does with a statement. */
    enum Kind {
        /** {@code SET 'key' = 'value'}: applied to the table configuration. */
        SET,
        /** {@code RESET} or {@code RESET 'key'}: undoes SETs. */
        RESET,
        /** An INSERT or a statement set: added to the one job of the script. */
        INSERT,
        /** A query (SELECT, WITH, VALUES): rejected, the runner only runs INSERT jobs. */
        QUERY,
        /** SHOW, DESCRIBE or EXPLAIN: executed, the result printed to stderr. */
        INFO,
        /** Anything else (DDL, USE, CREATE FUNCTION, LOAD MODULE …): executed in order. */
        EXECUTE,
        /** Only whitespace and comments: skipped. */
        EMPTY
    }

    /**
     * Classifies statement {@code index} of a script.
     *
     * @throws RunnerException if the statement is a malformed SET, RESET or statement set
     */
    static SqlStatement classify(int index, String text) throws RunnerException {
        List<Token> tokens = withoutTrailingSemicolons(SqlLexer.tokenize(text));
        if (tokens.isEmpty()) {
            return new SqlStatement(index, Kind.EMPTY, null, List.of(), null, null);
        }
        String sql = text.substring(0, tokens.get(tokens.size() - 1).end());
        Token first = tokens.get(0);
        if (first.isSymbol('(')) {
            return new SqlStatement(index, Kind.QUERY, sql, List.of(), null, null);
        }
        switch (first.type() == SqlLexer.Type.WORD ? first.keyword() : "") {
            case "SET":
                return parseSet(index, tokens);
            case "RESET":
                return parseReset(index, tokens);
            case "INSERT":
                return insert(index, sql, List.of(sql));
            case "SELECT":
            case "WITH":
            case "VALUES":
                return new SqlStatement(index, Kind.QUERY, sql, List.of(), null, null);
            case "SHOW":
            case "DESCRIBE":
            case "DESC":
            case "EXPLAIN":
                return new SqlStatement(index, Kind.INFO, sql, List.of(), null, null);
            case "EXECUTE":
                return parseExecute(index, text, sql, tokens);
            case "BEGIN":
                if (startsWithStatementSet(tokens, 1)) {
                    int bodyStart = tokens.size() > 3 && tokens.get(3).isSymbol(';') ? 4 : 3;
                    return statementSet(index, text, sql, tokens, bodyStart);
                }
                return new SqlStatement(index, Kind.EXECUTE, sql, List.of(), null, null);
            default:
                return new SqlStatement(index, Kind.EXECUTE, sql, List.of(), null, null);
        }
    }

    private static SqlStatement insert(int index, String sql, List<String> inserts) {
        return new SqlStatement(index, Kind.INSERT, sql, List.copyOf(inserts), null, null);
    }

    private static SqlStatement parseSet(int index, List<Token> tokens) throws RunnerException {
        if (tokens.size() == 1) {
            throw RunnerException.sql(
                    index, "SET without a key lists the configuration; write SET 'key' = 'value'");
        }
        boolean wellFormed = tokens.size() == 4
                && tokens.get(1).type() == SqlLexer.Type.STRING
                && tokens.get(2).isSymbol('=')
                && tokens.get(3).type() == SqlLexer.Type.STRING;
        if (!wellFormed) {
            throw RunnerException.sql(
                    index, "malformed SET: expected SET 'key' = 'value' (single-quoted)");
        }
        String key = tokens.get(1).stringValue().strip();
        if (key.isEmpty()) {
            throw RunnerException.sql(index, "malformed SET: the key is empty");
        }
        return new SqlStatement(index, Kind.SET, null, List.of(), key, tokens.get(3).stringValue());
    }

    private static SqlStatement parseReset(int index, List<Token> tokens) throws RunnerException {
        if (tokens.size() == 1) {
            return new SqlStatement(index, Kind.RESET, null, List.of(), null, null);
        }
        if (tokens.size() != 2 || tokens.get(1).type() != SqlLexer.Type.STRING) {
            throw RunnerException.sql(
                    index, "malformed RESET: expected RESET or RESET 'key' (single-quoted)");
        }
        return new SqlStatement(
                index, Kind.RESET, null, List.of(), tokens.get(1).stringValue().strip(), null);
    }

    private static SqlStatement parseExecute(int index, String text, String sql, List<Token> tokens)
            throws RunnerException {
        if (tokens.size() > 1 && tokens.get(1).isWord("INSERT")) {
            String insert = sql.substring(tokens.get(1).start());
            return insert(index, sql, List.of(insert));
        }
        if (startsWithStatementSet(tokens, 1)
                && tokens.size() > 3
                && tokens.get(3).isWord("BEGIN")) {
            return statementSet(index, text, sql, tokens, 4);
        }
        throw RunnerException.sql(
                index,
                "unsupported EXECUTE statement: only EXECUTE INSERT and EXECUTE STATEMENT SET"
                        + " can be part of the script's job");
    }

    /**
     * A statement set whose body starts at token {@code bodyStart} and ends before the closing
     * END, which must be the last token.
     */
    private static SqlStatement statementSet(
            int index, String text, String sql, List<Token> tokens, int bodyStart)
            throws RunnerException {
        Token last = tokens.get(tokens.size() - 1);
        if (!last.isWord("END") || tokens.size() <= bodyStart) {
            throw RunnerException.sql(index, "the statement set is not closed by END");
        }
        List<String> inserts = new ArrayList<>();
        int partStart = -1;
        for (int i = bodyStart; i < tokens.size(); i++) {
            Token token = tokens.get(i);
            boolean boundary = token.isSymbol(';') || i == tokens.size() - 1;
            if (!boundary) {
                if (partStart < 0) {
                    partStart = i;
                }
                continue;
            }
            if (partStart >= 0) {
                Token head = tokens.get(partStart);
                if (!head.isWord("INSERT")) {
                    throw RunnerException.sql(
                            index,
                            "a statement set may only contain INSERT statements, found "
                                    + head.text());
                }
                inserts.add(text.substring(head.start(), tokens.get(i - 1).end()));
                partStart = -1;
            }
        }
        if (inserts.isEmpty()) {
            throw RunnerException.sql(index, "the statement set contains no INSERT statement");
        }
        return insert(index, sql, inserts);
    }

    /** Whether tokens {@code from}, {@code from + 1} are the words STATEMENT SET. */
    private static boolean startsWithStatementSet(List<Token> tokens, int from) {
        return tokens.size() > from + 1
                && tokens.get(from).isWord("STATEMENT")
                && tokens.get(from + 1).isWord("SET");
    }

    private static List<Token> withoutTrailingSemicolons(List<Token> tokens) {
        int end = tokens.size();
        while (end > 0 && tokens.get(end - 1).isSymbol(';')) {
            end--;
        }
        return tokens.subList(0, end);
    }
}
