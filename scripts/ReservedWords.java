// Prints the words Flink's SQL parser reserves, one per line (run by scripts/reserved-words.sh).
import org.apache.flink.sql.parser.impl.FlinkSqlParserImpl;
public class ReservedWords {
  public static void main(String[] a) {
    var md = new FlinkSqlParserImpl(new java.io.StringReader("")).getMetadata();
    md.getTokens().stream().filter(md::isReservedWord).sorted().forEach(System.out::println);
  }
}
