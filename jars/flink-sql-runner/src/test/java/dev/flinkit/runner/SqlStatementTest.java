package dev.flinkit.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.flinkit.runner.SqlStatement.Kind;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

class SqlStatementTest {

    private static SqlStatement classify(String sql) throws RunnerException {
        return SqlStatement.classify(0, sql);
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "CREATE TABLE t (a INT) WITH ('connector' = 'datagen')|EXECUTE",
                "  create temporary view v as select 1|EXECUTE",
                "USE CATALOG c|EXECUTE",
                "CREATE FUNCTION f AS 'com.example.F'|EXECUTE",
                "insert into t select * from s|INSERT",
                "INSERT OVERWRITE t SELECT * FROM s|INSERT",
                "SELECT * FROM t|QUERY",
                "with x as (select 1) select * from x|QUERY",
                "VALUES (1)|QUERY",
                "(SELECT 1)|QUERY",
                "SHOW TABLES|INFO",
                "describe t|INFO",
                "EXPLAIN PLAN FOR SELECT 1|INFO",
                "SET 'a' = 'b'|SET",
                "reset|RESET",
                "BEGIN TRANSACTION|EXECUTE",
            })
    void classifiesByLeadingKeyword(String sql, Kind expected) throws RunnerException {
        assertEquals(expected, classify(sql).kind());
    }

    @Test
    void skipsLeadingCommentsAndKeepsThemInTheExecutedText() throws RunnerException {
        String sql = "-- the sink\n/* block\n comment */ INSERT INTO t SELECT 1;  -- done\n";
        SqlStatement statement = classify(sql);
        assertEquals(Kind.INSERT, statement.kind());
        assertEquals("-- the sink\n/* block\n comment */ INSERT INTO t SELECT 1", statement.sql());
        assertEquals(List.of(statement.sql()), statement.inserts());
    }

    @Test
    void commentOnlyStatementIsEmpty() throws RunnerException {
        assertEquals(Kind.EMPTY, classify("  -- nothing\n /* here */ ;").kind());
    }

    @Test
    void keywordsInsideStringsAndQuotedIdentifiersDoNotCount() throws RunnerException {
        assertEquals(Kind.EXECUTE, classify("CREATE VIEW `select` AS SELECT 'INSERT' AS x").kind());
        assertEquals(Kind.QUERY, classify("SELECT 'a;b', `c;d` FROM t").kind());
    }

    @Test
    void parsesSetWithQuotedKeyAndValueAndEscapes() throws RunnerException {
        SqlStatement statement = classify("set 'pipeline.name'='it''s a job' ;");
        assertEquals(Kind.SET, statement.kind());
        assertEquals("pipeline.name", statement.key());
        assertEquals("it's a job", statement.value());
    }

    @Test
    void setValueMayContainSemicolonsAndEquals() throws RunnerException {
        SqlStatement statement = classify("SET 'table.exec.x' = 'a=b;c'");
        assertEquals("a=b;c", statement.value());
    }

    @Test
    void rejectsMalformedSet() {
        RunnerException unquoted = assertThrows(RunnerException.class, () -> classify("SET a = b"));
        assertEquals(RunnerException.Kind.SQL, unquoted.kind());
        assertTrue(unquoted.getMessage().contains("SET 'key' = 'value'"), unquoted.getMessage());
        assertThrows(RunnerException.class, () -> classify("SET"));
        assertThrows(RunnerException.class, () -> classify("SET 'a' = 'b' 'c'"));
    }

    @Test
    void parsesResetOfOneKeyOrAll() throws RunnerException {
        assertNull(classify("RESET").key());
        assertEquals("pipeline.name", classify("RESET 'pipeline.name';").key());
        assertThrows(RunnerException.class, () -> classify("RESET pipeline.name"));
    }

    @Test
    void executeStatementSetYieldsEachInsert() throws RunnerException {
        SqlStatement statement = classify(
                "EXECUTE STATEMENT SET BEGIN\n"
                        + "  INSERT INTO a SELECT * FROM s WHERE x = 'p;q';\n"
                        + "  -- second\n"
                        + "  INSERT INTO b SELECT CASE WHEN y THEN 1 ELSE 2 END FROM s;\n"
                        + "END;");
        assertEquals(Kind.INSERT, statement.kind());
        assertEquals(
                List.of(
                        "INSERT INTO a SELECT * FROM s WHERE x = 'p;q'",
                        "INSERT INTO b SELECT CASE WHEN y THEN 1 ELSE 2 END FROM s"),
                statement.inserts());
    }

    @Test
    void beginStatementSetYieldsEachInsert() throws RunnerException {
        SqlStatement statement = classify(
                "begin statement set; insert into a select 1; insert into b select 2 end");
        assertEquals(List.of("insert into a select 1", "insert into b select 2"), statement.inserts());
    }

    @Test
    void executeInsertIsAnInsert() throws RunnerException {
        SqlStatement statement = classify("EXECUTE INSERT INTO t SELECT 1");
        assertEquals(List.of("INSERT INTO t SELECT 1"), statement.inserts());
    }

    @Test
    void rejectsBadStatementSets() {
        RunnerException notInsert = assertThrows(
                RunnerException.class,
                () -> classify("EXECUTE STATEMENT SET BEGIN CREATE TABLE x (a INT); END"));
        assertTrue(notInsert.getMessage().contains("only contain INSERT"), notInsert.getMessage());
        assertThrows(RunnerException.class, () -> classify("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1;"));
        assertThrows(RunnerException.class, () -> classify("BEGIN STATEMENT SET; END"));
        assertThrows(RunnerException.class, () -> classify("EXECUTE PLAN '/tmp/plan.json'"));
    }

    @Test
    void keepsTheStatementIndex() throws RunnerException {
        assertEquals(7, SqlStatement.classify(7, "INSERT INTO t SELECT 1").index());
        RunnerException error = assertThrows(RunnerException.class, () -> SqlStatement.classify(3, "SET x"));
        assertEquals(3, error.statement());
    }
}
