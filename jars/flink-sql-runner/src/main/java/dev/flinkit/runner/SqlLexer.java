package dev.flinkit.runner;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The little lexing the runner needs to classify a statement: words, quoted strings and
 * identifiers, and single-character symbols, with whitespace and comments skipped.
 *
 * <p>It knows Flink SQL's quoting: {@code 'string'} with {@code ''} as the escaped quote,
 * {@code `identifier`} with {@code ``}, {@code "identifier"} with {@code ""}, line comments
 * ({@code -- …}) and block comments (slash-star to star-slash, hints included). It never
 * rejects input: an unterminated quote or comment runs to the end of the text, and Flink's own
 * parser reports the error when the statement is executed.
 */
final class SqlLexer {

    /** The kinds of token. */
    enum Type {
        /** A keyword or unquoted identifier (letters, digits, {@code _}, {@code $}). */
        WORD,
        /** A single-quoted string literal. */
        STRING,
        /** A back-tick or double-quoted identifier. */
        QUOTED_IDENTIFIER,
        /** Any other single character, such as {@code ;}, {@code =} or {@code (}. */
        SYMBOL
    }

    /**
     * One token.
     *
     * @param type what it is
     * @param text its source text, quotes included
     * @param start offset of its first character
     * @param end offset just past its last character
     */
    record Token(Type type, String text, int start, int end) {

        /** Whether this is the word {@code keyword}, compared case-insensitively. */
        boolean isWord(String keyword) {
            return type == Type.WORD && text.equalsIgnoreCase(keyword);
        }

        /** Whether this is the symbol {@code symbol}. */
        boolean isSymbol(char symbol) {
            return type == Type.SYMBOL && text.charAt(0) == symbol;
        }

        /** The upper-cased text of a word. */
        String keyword() {
            return text.toUpperCase(Locale.ROOT);
        }

        /**
         * The value of a string literal: the text between the quotes, with {@code ''} unescaped.
         */
        String stringValue() {
            String inner = text.length() >= 2 && text.endsWith("'")
                    ? text.substring(1, text.length() - 1)
                    : text.substring(1);
            return inner.replace("''", "'");
        }
    }

    private SqlLexer() {}

    /** Splits {@code sql} into tokens, skipping whitespace and comments. */
    static List<Token> tokenize(String sql) {
        List<Token> tokens = new ArrayList<>();
        int length = sql.length();
        int i = 0;
        while (i < length) {
            char c = sql.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '-' && i + 1 < length && sql.charAt(i + 1) == '-') {
                int newline = sql.indexOf('\n', i);
                i = newline < 0 ? length : newline + 1;
            } else if (c == '/' && i + 1 < length && sql.charAt(i + 1) == '*') {
                int close = sql.indexOf("*/", i + 2);
                i = close < 0 ? length : close + 2;
            } else if (c == '\'') {
                int end = endOfQuoted(sql, i, '\'');
                tokens.add(new Token(Type.STRING, sql.substring(i, end), i, end));
                i = end;
            } else if (c == '`' || c == '"') {
                int end = endOfQuoted(sql, i, c);
                tokens.add(new Token(Type.QUOTED_IDENTIFIER, sql.substring(i, end), i, end));
                i = end;
            } else if (isWordChar(c)) {
                int end = i + 1;
                while (end < length && isWordChar(sql.charAt(end))) {
                    end++;
                }
                tokens.add(new Token(Type.WORD, sql.substring(i, end), i, end));
                i = end;
            } else {
                tokens.add(new Token(Type.SYMBOL, String.valueOf(c), i, i + 1));
                i++;
            }
        }
        return tokens;
    }

    /**
     * The offset just past the closing quote of the quoted text opening at {@code start}; a
     * doubled quote character is an escaped quote, not the end.
     */
    private static int endOfQuoted(String sql, int start, char quote) {
        int i = start + 1;
        while (i < sql.length()) {
            if (sql.charAt(i) == quote) {
                if (i + 1 < sql.length() && sql.charAt(i + 1) == quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        return sql.length();
    }

    private static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '$';
    }
}
