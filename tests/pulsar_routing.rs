//! Keys go to the Pulsar partition Java's client picks: flinkit's `key_partition` against the
//! Pulsar client's own `Murmur3Hash32` and `MathUtils.signSafeMod` (what its Murmur3 hashing
//! scheme and Flink's Pulsar sink use), run in a real JVM on the stack's Pulsar jars.

mod common;

use flinkit::bridge::pulsar::key_partition;

/// Keys that cover the tail lengths of Murmur3 (0 to 3 bytes past a block), multi-byte UTF-8,
/// Base64 text, and hashes with the sign bit set.
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "100-1",
        "é",
        "日本語のキー",
        "AAEC/w==",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    keys.extend((0..200).map(|i| format!("{}-{i}", i % 1000)));
    keys.extend((0..50).map(|i| format!("user{i}@example.com")));
    keys
}

#[test]
fn keys_are_routed_to_the_partitions_javas_client_picks() {
    let cache = flinkit::provision::Cache::from_env().unwrap();
    let classpath = cache
        .stack_classpath("pulsar", "Pulsar", false, &mut |_| {})
        .expect("the stack's Pulsar jars (flinkit stack up fetches them)");
    let classpath: Vec<String> = classpath.iter().map(|p| p.display().to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let keys = keys();
    // One key per line, hex-encoded UTF-8 so that any key survives the trip.
    let hex: Vec<String> = keys
        .iter()
        .map(|k| k.bytes().map(|b| format!("{b:02x}")).collect())
        .collect();
    std::fs::write(dir.path().join("keys.txt"), hex.join("\n") + "\n").unwrap();
    let source = dir.path().join("Route.java");
    std::fs::write(
        &source,
        r#"
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import org.apache.pulsar.client.impl.Murmur3Hash32;
import org.apache.pulsar.client.util.MathUtils;

public class Route {
    public static void main(String[] args) throws Exception {
        for (String hex : Files.readAllLines(Paths.get(args[0]))) {
            byte[] bytes = new byte[hex.length() / 2];
            for (int i = 0; i < bytes.length; i++) {
                bytes[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
            }
            String key = new String(bytes, StandardCharsets.UTF_8);
            StringBuilder line = new StringBuilder();
            for (int n = 1; n <= 7; n++) {
                int hash = Murmur3Hash32.getInstance().makeHash(key);
                line.append(n == 1 ? "" : " ").append(MathUtils.signSafeMod(hash, n));
            }
            System.out.println(line);
        }
    }
}
"#,
    )
    .unwrap();
    let out = common::pulsar_java(dir.path())
        .arg("-cp")
        .arg(classpath.join(":"))
        .arg(&source)
        .arg(dir.path().join("keys.txt"))
        .output()
        .expect("java runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let java: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(java.len(), keys.len());
    let mut differs_from_unsigned = 0;
    for (key, java) in keys.iter().zip(&java) {
        let ours: Vec<String> = (1..=7).map(|n| key_partition(key, n).to_string()).collect();
        assert_eq!(ours.join(" "), *java, "key {key:?}");
        let unsigned = murmur3::murmur3_32(&mut key.as_bytes(), 0).unwrap() as usize % 3;
        differs_from_unsigned += usize::from(unsigned != key_partition(key, 3));
    }
    // The sample has keys whose hash has the sign bit set, where keeping it picks another
    // partition (what the `pulsar` crate's own routing did).
    assert!(differs_from_unsigned > 0);
}
