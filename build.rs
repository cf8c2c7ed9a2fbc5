//! Build script: reads the pinned versions from `jars/pom.xml` (the one place they are set) and
//! embeds the Maven sources under `jars/` so the binary can build its own runner jar anywhere.
//! It also checks the few things the build and the demo take from the system, so that a new
//! machine learns what to install in the first seconds of `cargo run`, not after minutes of
//! compiling: make (fatal: librdkafka is built with it), Java 17 and Maven (a warning: only
//! running Flink needs them).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    check_system();
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let jars = root.join("jars");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=jars");

    let pom = std::fs::read_to_string(jars.join("pom.xml")).expect("jars/pom.xml is readable");
    let properties = properties(&pom);
    let mut versions = String::from(
        "/// Every `<properties>` entry of `jars/pom.xml`, in order: (name, value).\n\
         pub const PROPERTIES: &[(&str, &str)] = &[\n",
    );
    for (name, value) in &properties {
        let _ = writeln!(versions, "    ({name:?}, {value:?}),");
    }
    versions.push_str("];\n");
    std::fs::write(out.join("versions.rs"), versions).expect("OUT_DIR is writable");

    let mut files = Vec::new();
    collect(&jars, &jars, &mut files);
    files.sort();
    let mut embedded = String::from(
        "/// The Maven sources under `jars/`: (relative path, contents).\n\
         pub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for rel in &files {
        println!("cargo:rerun-if-changed=jars/{rel}");
        let abs = jars.join(rel);
        let _ = writeln!(
            embedded,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    embedded.push_str("];\n");
    std::fs::write(out.join("jar_sources.rs"), embedded).expect("OUT_DIR is writable");
}

/// Fails with the install command when `make` is missing; warns when Java or Maven is. (A missing
/// C compiler needs no check: Rust links with `cc`, so the first build script fails without it.)
fn check_system() {
    if !runs("make", "--version") {
        eprintln!(
            "flinkit compiles librdkafka with its configure script and make, but `make` could not \
             be run. Install it, then build again:\n    \
             apt-get install build-essential   (Fedora: dnf install make; macOS: xcode-select --install)"
        );
        std::process::exit(1);
    }
    let java = std::env::var_os("JAVA_HOME")
        .map(|home| PathBuf::from(home).join("bin/java"))
        .unwrap_or_else(|| PathBuf::from("java"));
    let mut needs = Vec::new();
    if !runs(&java.to_string_lossy(), "-version") {
        needs.push("openjdk-17-jdk-headless");
    }
    if !runs("mvn", "-v") {
        needs.push("maven");
    }
    if !needs.is_empty() {
        println!(
            "cargo:warning=flinkit runs Flink with Java 17 and Maven; install them before \
             `flinkit demo`: apt-get install {}",
            needs.join(" ")
        );
    }
}

/// Whether `program arg` runs and succeeds.
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `<name>value</name>` lines inside `<properties>`.
fn properties(pom: &str) -> Vec<(String, String)> {
    let Some(start) = pom.find("<properties>") else {
        return Vec::new();
    };
    let end = pom[start..]
        .find("</properties>")
        .map_or(pom.len(), |e| start + e);
    pom[start..end]
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let name = line.strip_prefix('<')?.split('>').next()?;
            let value = line
                .strip_prefix(&format!("<{name}>"))?
                .strip_suffix(&format!("</{name}>"))?;
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Every file below `dir` except build output and editor state, relative to `base`.
fn collect(base: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(base, &path, files);
        } else if let Ok(rel) = path.strip_prefix(base) {
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
