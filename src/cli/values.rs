//! Value parsers for flags: every duration, size, URL, address, count, rate and ratio is checked
//! while clap parses the command line, so a bad one exits 2 with clap's usage message before
//! anything runs.

use std::time::Duration;

use flinkit::bridge::generate::{Rate, parse_traffic_pattern};

/// A duration above zero (`10s`, `2m`, `1h 30m`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e}; write a duration like 10s, 2m or 1h"))?;
    if duration.is_zero() {
        return Err("a zero duration would give up at once; give one above 0, like 10s".into());
    }
    Ok(duration)
}

/// A JVM heap size as `-Xmx` takes it: a number above zero with an optional `k`, `m`, `g` or `t`.
pub fn heap(text: &str) -> Result<String, String> {
    let digits = text.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T']);
    let unit = text.len() - digits.len();
    let number: Option<u64> = digits
        .parse()
        .ok()
        .filter(|_| unit <= 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    match number {
        Some(0) => Err("a heap of 0 cannot run anything; give a size like 1g or 512m".into()),
        Some(_) => Ok(text.to_string()),
        None => Err(format!(
            "`{text}` is not a size; write a number with k, m, g or t, like 1g or 512m"
        )),
    }
}

/// An HTTP address (`http://host:port`, optionally with a path).
pub fn http_url(text: &str) -> Result<String, String> {
    let help = "write an http:// or https:// address, like http://localhost:8081";
    if text.trim().is_empty() {
        return Err(format!("the address is empty; {help}"));
    }
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| format!("`{text}` is not a URL ({e}); {help}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}` is not an http(s) URL; {help}"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host; {help}"));
    }
    Ok(text.to_string())
}

/// A Flink job id: 32 hex digits (Flink's `JobID`), checked before it becomes part of a REST
/// path, so that a typo is a usage error and not a request for another resource.
pub fn job_id(text: &str) -> Result<String, String> {
    let id = text.trim();
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(id.to_ascii_lowercase());
    }
    Err(format!(
        "`{id}` is not a Flink job id; a job id is 32 hex digits, as `flinkit jobs list` prints them"
    ))
}

/// A broker address: not empty, no white space (`localhost:9092`, `pulsar://host:6650`).
pub fn endpoint(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("the address is empty; give host:port (Kafka) or pulsar://host:port".into());
    }
    if text.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{text}` contains white space; separate Kafka brokers with commas"
        ));
    }
    Ok(text.to_string())
}

/// A name, path or URL that is not empty (or only white space).
pub fn non_empty(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("it is empty".into());
    }
    Ok(text.to_string())
}

/// A count of one or more.
pub fn count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("0 does nothing; give 1 or more".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("`{text}` is not a whole number ({e})")),
    }
}

/// A parallelism: 1 or more.
pub fn parallelism(text: &str) -> Result<u32, String> {
    let n = count(text)?;
    u32::try_from(n).map_err(|_| format!("{n} is more than a parallelism can be"))
}

/// A ratio from 0 to 1.
pub fn ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        Ok(_) => Err(format!("{text} is not between 0 and 1")),
        Err(e) => Err(format!("`{text}` is not a number ({e})")),
    }
}

/// A rate: records per second above zero (`100`, `2.5/s`) or `unlimited`.
pub fn rate(text: &str) -> Result<String, String> {
    Rate::parse(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// A traffic pattern: `START-END:PERCENT%` windows separated by commas.
pub fn traffic_pattern(text: &str) -> Result<String, String> {
    parse_traffic_pattern(text)
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// `--flink-version`: `1.20`, `2` (the newest 2.x flinkit runs), `2.2`, or a release of one.
pub fn flink_line(text: &str) -> Result<flinkit::flink::line::FlinkLine, String> {
    text.parse()
        .map_err(|e: flinkit::flink::line::LineError| e.to_string())
}

/// `--jar`: a jar file's path or `GROUP:ARTIFACT:VERSION`.
pub fn jar(text: &str) -> Result<flinkit::connectors::resolve::JarSource, String> {
    text.parse()
        .map_err(|e: flinkit::connectors::resolve::BadJarSource| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_above_zero() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        for bad in ["0s", "0", "", "soon", "-1s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn heap_sizes_as_the_jvm_takes_them() {
        for good in ["1g", "512m", "1024K", "1073741824"] {
            assert_eq!(heap(good), Ok(good.to_string()));
        }
        for bad in ["lots", "", "0", "0g", "1gb", "g", "1.5g", "-1g"] {
            assert!(heap(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_ids_are_32_hex_digits() {
        assert_eq!(
            job_id(" 41EE197032ef0cdbc6656c3b75918d47\n"),
            Ok("41ee197032ef0cdbc6656c3b75918d47".to_string())
        );
        for bad in [
            "",
            "nothex",
            "../overview",
            "41ee197032ef0cdbc6656c3b75918d4",
            "41ee197032ef0cdbc6656c3b75918d47?mode=stop",
        ] {
            assert!(job_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        for good in ["http://localhost:8081", "https://flink.example.com/base"] {
            assert!(http_url(good).is_ok(), "{good}");
        }
        for bad in [
            "not a url",
            "",
            "localhost:8081",
            "ftp://x",
            "http://",
            "http://:80",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_counts_ratios_and_rates() {
        assert!(endpoint("").is_err());
        assert!(non_empty(" ").is_err());
        assert_eq!(non_empty("x"), Ok("x".to_string()));
        assert!(endpoint("a:1, b:2").is_err());
        assert!(endpoint("a:1,b:2").is_ok());
        assert!(parallelism("0").is_err());
        assert_eq!(parallelism("4"), Ok(4));
        assert!(parallelism("99999999999").is_err());
        assert!(count("x").is_err());
        assert!(ratio("1.5").is_err());
        assert_eq!(ratio("0.25"), Ok(0.25));
        assert!(rate("0").is_err());
        assert!(rate("fast").is_err());
        assert!(rate("100/s").is_ok());
        assert!(traffic_pattern("nonsense").is_err());
    }
}
