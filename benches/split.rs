//! Throughput of splitting and parsing a generated ~10 MB Flink SQL script, compared with
//! sqlparser's tokenizer alone on the same text, and the scaling of split+parse at 1×, 2×, 4×.
//!
//! Run: `cargo bench --bench split` (criterion prints MiB/s for each).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flinkit::sql::Script;
use flinkit::sql::lexer::{Lexer, Token};
use flinkit::sql::split::split_tokens;
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::Tokenizer;

/// A script of about `bytes` bytes mixing every kind of statement flinkit sees in practice.
fn script(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 4096);
    let mut i = 0;
    while out.len() < bytes {
        out.push_str(&format!(
            "-- table {i}; with a comment\n\
             CREATE TABLE IF NOT EXISTS `orders_{i}` (\n  order_id BIGINT NOT NULL,\n  \
             customer ROW<name STRING, tags ARRAY<STRING>>,\n  price DECIMAL(10, 2),\n  \
             ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,\n  total AS price * 2,\n  \
             WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,\n  PRIMARY KEY (order_id) NOT ENFORCED\n\
             ) COMMENT 'orders; number {i}' WITH (\n  'connector' = 'kafka',\n  'topic' = 'orders_{i}',\n  \
             'properties.bootstrap.servers' = 'localhost:9092',\n  'format' = 'json'\n);\n\
             SET 'pipeline.name' = 'job; {i}';\n\
             /* a block comment; spanning\n   two lines */\n\
             INSERT INTO sink_{i} SELECT o.order_id, c.name, 'it''s; fine'\n\
             FROM `orders_{i}` /*+ OPTIONS('scan.startup.mode' = 'earliest-offset') */ AS o\n\
             LEFT JOIN customers AS c ON o.cid = c.id\n\
             JOIN (SELECT window_start, COUNT(*) AS cnt FROM TABLE(TUMBLE(TABLE clicks_{i}, DESCRIPTOR(ts), INTERVAL '1' MINUTES)) GROUP BY window_start, window_end) AS w ON TRUE\n\
             WHERE EXTRACT(YEAR FROM o.ts) > 2020;\n\
             EXECUTE STATEMENT SET BEGIN\n  INSERT INTO a_{i} SELECT u FROM clicks_{i};\n  \
             INSERT INTO b_{i} SELECT url FROM clicks_{i};\nEND;\n\n"
        ));
        i += 1;
    }
    out
}

/// Lexing and splitting only: the statement boundaries.
fn split_only(text: &str) -> usize {
    let toks: Vec<Token> = Lexer::new(text)
        .filter_map(Result::ok)
        .filter(|t| !t.kind.is_trivia())
        .collect();
    split_tokens(text, &toks).map_or(0, |p| p.len())
}

fn benches(c: &mut Criterion) {
    let text = script(10 << 20);
    let statements = Script::parse_str(&text)
        .expect("the script splits")
        .statements
        .len();
    assert_eq!(split_only(&text), statements);
    assert!(
        Tokenizer::new(&GenericDialect {}, &text).tokenize().is_ok(),
        "sqlparser must tokenize the whole text for a fair comparison"
    );
    println!("script: {} bytes, {statements} statements", text.len());
    let mut group = c.benchmark_group("10MB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("flinkit split", |b| b.iter(|| split_only(black_box(&text))));
    group.bench_function("flinkit split+parse", |b| {
        b.iter(|| Script::parse_str(black_box(&text)).map(|s| s.statements.len()))
    });
    group.bench_function("sqlparser tokenize", |b| {
        b.iter(|| {
            Tokenizer::new(&GenericDialect {}, black_box(&text))
                .tokenize()
                .map(|t| t.len())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("scaling split+parse");
    group.sample_size(10);
    for factor in [1usize, 2, 4] {
        let text = script(factor * (10 << 20) / 4);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{factor}x")),
            &text,
            |b, t| b.iter(|| Script::parse_str(black_box(t)).map(|s| s.statements.len())),
        );
    }
    group.finish();
}

criterion_group!(split, benches);
criterion_main!(split);
