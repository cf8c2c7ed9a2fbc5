//! Where SQL text comes from (arguments, files, folders, stdin), how it is loaded, and how byte
//! offsets map to 1-based lines and columns.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::lexer::BOM;

/// One input as the user gave it, before loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// SQL text given on the command line (`--sql TEXT` or a positional argument).
    Text(String),
    /// A file, or a folder searched recursively for `*.sql` files.
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

/// Where a loaded source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The n-th SQL text argument (1-based).
    Argument(usize),
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Argument(n) => write!(f, "<argument {n}>"),
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Stdin => f.write_str("<stdin>"),
        }
    }
}

/// A loaded piece of SQL text with its origin and a line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    origin: Origin,
    text: String,
    line_starts: Vec<usize>,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourceFile {
    /// A source from its origin and text.
    pub fn new(origin: Origin, text: String) -> Self {
        let start = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let mut line_starts = vec![start];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Self {
            origin,
            text,
            line_starts,
        }
    }

    /// Where the text came from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The display name: a path, `<argument N>` or `<stdin>`.
    pub fn name(&self) -> String {
        self.origin.to_string()
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1].min(offset);
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Position { line, column }
    }

    /// The byte range of the 1-based `line`, without its line break.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        let end = if self.text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end
    }
}

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A file or folder could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not UTF-8 text.
    #[error("{origin} is not UTF-8 text")]
    NotUtf8 {
        /// Where it came from.
        origin: Origin,
    },
    /// A folder holds no `.sql` file.
    #[error("no .sql file in folder {}", path.display())]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },
    /// `-` was given more than once.
    #[error("standard input (-) can be read only once")]
    StdinTwice,
}

/// Loads every input in the order given; folders expand to their `*.sql` files sorted by path.
pub fn load(inputs: &[Input]) -> Result<Vec<SourceFile>, InputError> {
    load_with_stdin(inputs, &mut std::io::stdin().lock())
}

/// [`load`], reading `-` from `stdin`.
pub fn load_with_stdin(
    inputs: &[Input],
    stdin: &mut dyn Read,
) -> Result<Vec<SourceFile>, InputError> {
    let mut sources = Vec::new();
    let mut arguments = 0;
    let mut stdin_read = false;
    for input in inputs {
        match input {
            Input::Text(text) => {
                arguments += 1;
                sources.push(SourceFile::new(Origin::Argument(arguments), text.clone()));
            }
            Input::Stdin => {
                if stdin_read {
                    return Err(InputError::StdinTwice);
                }
                stdin_read = true;
                let mut bytes = Vec::new();
                stdin
                    .read_to_end(&mut bytes)
                    .map_err(|source| InputError::Read {
                        path: PathBuf::from("-"),
                        source,
                    })?;
                sources.push(decode(Origin::Stdin, bytes)?);
            }
            Input::Path(path) => {
                for file in expand(path)? {
                    let bytes = std::fs::read(&file).map_err(|source| InputError::Read {
                        path: file.clone(),
                        source,
                    })?;
                    sources.push(decode(Origin::File(file), bytes)?);
                }
            }
        }
    }
    Ok(sources)
}

fn decode(origin: Origin, bytes: Vec<u8>) -> Result<SourceFile, InputError> {
    let text = String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        origin: origin.clone(),
    })?;
    Ok(SourceFile::new(origin, text))
}

/// A file stands for itself; a folder for its `*.sql` files, recursively, sorted by path.
fn expand(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let meta = std::fs::metadata(path).map_err(|source| InputError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).follow_links(true) {
        let entry = entry.map_err(|err| InputError::Read {
            path: err.path().unwrap_or(path).to_path_buf(),
            source: err.into(),
        })?;
        let is_sql = entry
            .path()
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("sql"));
        if entry.file_type().is_file() && is_sql {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        return Err(InputError::EmptyFolder {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_skip_the_bom() {
        let src = SourceFile::new(Origin::Stdin, "\u{feff}ab\r\nnäme x".into());
        assert_eq!(src.position(3), Position { line: 1, column: 1 });
        assert_eq!(src.position(4), Position { line: 1, column: 2 });
        let x = src.text().find('x').unwrap();
        assert_eq!(src.position(x), Position { line: 2, column: 6 });
        assert_eq!(&src.text()[src.line_range(1)], "ab");
        assert_eq!(&src.text()[src.line_range(2)], "näme x");
    }

    #[test]
    fn folders_expand_sorted_and_recursive() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/1.sql"), "SELECT 2").unwrap();
        std::fs::write(dir.path().join("a.sql"), "SELECT 1").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let inputs = [
            Input::Text("SELECT 0".into()),
            Input::Path(dir.path().into()),
            Input::Stdin,
        ];
        let sources = load_with_stdin(&inputs, &mut "SELECT 3".as_bytes()).unwrap();
        let texts: Vec<_> = sources.iter().map(SourceFile::text).collect();
        assert_eq!(texts, ["SELECT 0", "SELECT 1", "SELECT 2", "SELECT 3"]);
        assert_eq!(sources[0].name(), "<argument 1>");
        assert_eq!(sources[3].name(), "<stdin>");
    }

    #[test]
    fn stdin_only_once_and_empty_folders_are_errors() {
        let inputs = [Input::Stdin, Input::Stdin];
        assert!(matches!(
            load_with_stdin(&inputs, &mut "".as_bytes()),
            Err(InputError::StdinTwice)
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_with_stdin(&[Input::Path(dir.path().into())], &mut "".as_bytes()),
            Err(InputError::EmptyFolder { .. })
        ));
    }
}
