//! Jar files as flinkit handles them: checking that a file is a jar, the Flink line an Apache
//! connector jar was built for, classes that two jars on one classpath both carry in different
//! versions ([`conflicts`]), and the combined job jar for a cluster ([`combine`]): the runner
//! jar with the extra jars nested under `lib/`, which Flink's `PackagedProgram` extracts onto the
//! job's classpath and ships with the job (`pipeline.jars`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use zip::ZipArchive;
use zip::write::SimpleFileOptions;

/// Why a jar could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JarError {
    /// The file does not exist or cannot be opened.
    #[error("{}: cannot open it", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a zip archive.
    #[error("{} is not a jar (not a zip archive)", path.display())]
    NotAJar {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: zip::result::ZipError,
    },
    /// Writing the combined jar failed.
    #[error("{}: cannot write it", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn open(path: &Path) -> Result<ZipArchive<BufReader<File>>, JarError> {
    let file = File::open(path).map_err(|source| JarError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    ZipArchive::new(BufReader::new(file)).map_err(|source| JarError::NotAJar {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks that `path` is a readable zip archive.
pub fn check(path: &Path) -> Result<(), JarError> {
    open(path).map(|_| ())
}

/// The Maven artifacts a jar declares (`META-INF/maven/<group>/<artifact>/pom.properties`), as
/// `G:A:V`: the jar's own, and those a shaded jar bundles.
pub fn declared_artifacts(path: &Path) -> Result<Vec<String>, JarError> {
    let mut archive = open(path)?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("META-INF/maven/") && n.ends_with("/pom.properties"))
        .map(|n| n.into_owned())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let mut text = String::new();
        if let Ok(mut entry) = archive.by_name(&name)
            && entry.read_to_string(&mut text).is_ok()
        {
            let get = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                    .map(str::trim)
            };
            if let (Some(g), Some(a), Some(v)) = (get("groupId"), get("artifactId"), get("version"))
            {
                out.push(format!("{g}:{a}:{v}"));
            }
        }
    }
    Ok(out)
}

/// The `org.apache.flink` artifact a jar declares itself to be (`G:A:V`), if any: the first
/// `org.apache.flink` entry of [`declared_artifacts`] that is not a parent pom.
pub fn flink_artifact(path: &Path) -> Result<Option<String>, JarError> {
    Ok(declared_artifacts(path)?.into_iter().find(|gav| {
        gav.starts_with("org.apache.flink:")
            && !gav
                .split(':')
                .nth(1)
                .is_some_and(|a| a.ends_with("-parent"))
    }))
}

/// The classes a jar carries (`org/acme/Thing.class`), outside `META-INF/`.
pub fn classes(path: &Path) -> Result<std::collections::HashSet<String>, JarError> {
    let archive = open(path)?;
    Ok(archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.ends_with(".class") && !n.starts_with("META-INF/"))
        .map(|n| n.into_owned())
        .collect())
}

/// A class that two jars carry in different versions.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// The package the clashing classes are in (`org.apache.kafka.clients.producer`).
    pub package: String,
    /// One clashing class (`org.apache.kafka.clients.producer.KafkaProducer`).
    pub example: String,
    /// How many classes of the package clash.
    pub classes: usize,
    /// The jar seen first.
    pub first: PathBuf,
    /// The jar seen later with other bytes for the same classes.
    pub second: PathBuf,
}

/// Classes that more than one of `jars` carry with different contents (CRC-32 of the class
/// file): the JVM loads whichever comes first, and code compiled against the other fails with
/// `ClassCastException`, `NoSuchMethodError` or `LinkageError` at run time. Identical copies are
/// harmless and not reported. One [`Conflict`] per package and pair of jars, in classpath order.
pub fn conflicts(jars: &[PathBuf]) -> Result<Vec<Conflict>, JarError> {
    let mut seen: HashMap<String, (usize, u32)> = HashMap::new();
    let mut out: Vec<Conflict> = Vec::new();
    for (index, jar) in jars.iter().enumerate() {
        let mut archive = open(jar)?;
        for i in 0..archive.len() {
            let Ok(entry) = archive.by_index_raw(i) else {
                continue;
            };
            let Ok(name) = entry.name() else {
                continue;
            };
            let name = name.into_owned();
            if !name.ends_with(".class")
                || name.starts_with("META-INF/")
                || name.ends_with("module-info.class")
            {
                continue;
            }
            let crc = entry.crc32();
            match seen.get(&name) {
                None => {
                    seen.insert(name, (index, crc));
                }
                Some(&(first, first_crc)) if first != index && first_crc != crc => {
                    let class = name.trim_end_matches(".class").replace('/', ".");
                    let package = class
                        .rsplit_once('.')
                        .map_or(String::new(), |(p, _)| p.to_string());
                    match out.iter_mut().find(|c| {
                        c.package == package && c.first == jars[first] && c.second == *jar
                    }) {
                        Some(conflict) => conflict.classes += 1,
                        None => out.push(Conflict {
                            package,
                            example: class,
                            classes: 1,
                            first: jars[first].clone(),
                            second: jar.clone(),
                        }),
                    }
                }
                Some(_) => {}
            }
        }
    }
    Ok(out)
}

/// Writes `out`: every entry of `base` as it is (not recompressed), then each of `nested`
/// stored under `lib/<file name>`. Written to a temporary file beside `out` and renamed.
pub fn combine(base: &Path, nested: &[PathBuf], out: &Path) -> Result<(), JarError> {
    let write_err = |source: std::io::Error| JarError::Write {
        path: out.to_path_buf(),
        source,
    };
    let zip_err = |err: zip::result::ZipError| write_err(std::io::Error::other(err));
    let mut archive = open(base)?;
    let tmp = out.with_extension("jar.tmp");
    let written = (|| {
        let file = File::create(&tmp).map_err(write_err)?;
        let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let mut has_lib = false;
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(zip_err)?;
            has_lib |= entry.name().is_ok_and(|n| n == "lib/");
            writer.raw_copy_file(entry).map_err(zip_err)?;
        }
        if !has_lib {
            writer
                .add_directory("lib/", SimpleFileOptions::default())
                .map_err(zip_err)?;
        }
        nest(&mut writer, nested)?;
        writer.finish().map_err(zip_err)?;
        Ok(())
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    std::fs::rename(&tmp, out).map_err(write_err)
}

/// Stores each of `nested` as `lib/<file name>`.
fn nest<W: std::io::Write + std::io::Seek>(
    writer: &mut zip::ZipWriter<W>,
    nested: &[PathBuf],
) -> Result<(), JarError> {
    for jar in nested {
        let name = jar.file_name().unwrap_or_default().to_string_lossy();
        writer
            .start_file(
                format!("lib/{name}"),
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
            )
            .map_err(|err| JarError::Write {
                path: jar.clone(),
                source: std::io::Error::other(err),
            })?;
        let mut input = File::open(jar).map_err(|source| JarError::Open {
            path: jar.clone(),
            source,
        })?;
        std::io::copy(&mut input, writer).map_err(|source| JarError::Write {
            path: jar.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn jar(dir: &Path, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = dir.join(name);
        let mut writer = zip::ZipWriter::new(File::create(&path).unwrap());
        for (entry, bytes) in entries {
            writer
                .start_file(*entry, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    #[test]
    fn different_copies_of_a_class_conflict_identical_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let a = jar(
            dir.path(),
            "kafka-clients-3.9.jar",
            &[
                ("org/apache/kafka/Producer.class", b"v3.9"),
                ("org/apache/kafka/Consumer.class", b"v3.9 c"),
                ("shared/Same.class", b"same"),
            ],
        );
        let b = jar(
            dir.path(),
            "kafka-clients-4.1.jar",
            &[
                ("org/apache/kafka/Producer.class", b"v4.1"),
                ("org/apache/kafka/Consumer.class", b"v4.1 c"),
                ("shared/Same.class", b"same"),
            ],
        );
        let found = conflicts(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].package, "org.apache.kafka");
        assert_eq!(found[0].classes, 2);
        assert_eq!((&found[0].first, &found[0].second), (&a, &b));
        assert!(conflicts(&[a]).unwrap().is_empty());
    }

    #[test]
    fn a_file_that_is_not_a_zip_is_not_a_jar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jar");
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(matches!(check(&path), Err(JarError::NotAJar { .. })));
        assert!(matches!(
            check(&dir.path().join("missing.jar")),
            Err(JarError::Open { .. })
        ));
    }

    #[test]
    fn the_combined_jar_nests_the_extra_jars_under_lib() {
        let dir = tempfile::tempdir().unwrap();
        let base = jar(dir.path(), "runner.jar", &[("a/A.class", b"a")]);
        let extra = jar(
            dir.path(),
            "extra.jar",
            &[(
                "META-INF/maven/org.apache.flink/flink-connector-jdbc/pom.properties",
                b"groupId=org.apache.flink\nartifactId=flink-connector-jdbc\nversion=3.1.2-1.17\n",
            )],
        );
        let out = dir.path().join("combined.jar");
        combine(&base, std::slice::from_ref(&extra), &out).unwrap();
        let archive = open(&out).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        assert!(names.iter().any(|n| n == "a/A.class"));
        assert!(names.iter().any(|n| n == "lib/extra.jar"));
        assert_eq!(
            flink_artifact(&extra).unwrap().as_deref(),
            Some("org.apache.flink:flink-connector-jdbc:3.1.2-1.17")
        );
    }
}
