//! Prints the Maven artifacts flinkit fetches for a connector, format or catalog type it does
//! not bundle (its curated table for the Flink line in use), one `G:A:V` per line:
//! `cargo run --example connector_artifacts jdbc`. Unknown identifiers print nothing and exit 1.

use flinkit::connectors::resolve::{Kind, provider};

fn main() {
    let identifier = std::env::args().nth(1).unwrap_or_default();
    let found = [Kind::Connector, Kind::Format, Kind::Catalog]
        .into_iter()
        .find_map(|kind| provider(kind, &identifier));
    let Some(provider) = found else {
        eprintln!("no artifact in flinkit's table provides '{identifier}'");
        std::process::exit(1);
    };
    for artifact in provider.artifacts() {
        println!("{artifact}");
    }
}
