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

/// The largest SQL input flinkit reads (per file, argument or stdin): 256 MiB. Larger inputs
/// (a script is rarely more than a few MiB; `/dev/zero` never ends) are refused, not read.
pub const MAX_SOURCE_BYTES: u64 = 256 << 20;

/// Bytes per block of the column index: a column is found by counting characters in at most
/// two blocks, so positions cost the same on a 10 MB line as on a short one.
const BLOCK: usize = 1024;

/// A loaded piece of SQL text with its origin and a line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    origin: Origin,
    text: String,
    line_starts: Vec<usize>,
    /// For each block of `BLOCK` bytes, the number of UTF-8 continuation bytes before it; empty
    /// when the text is ASCII (a column is then a byte difference).
    continuation_before: Vec<usize>,
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
        let mut continuation_before = Vec::new();
        if !text.is_ascii() {
            continuation_before.reserve(text.len() / BLOCK + 1);
            let mut seen = 0;
            for block in text.as_bytes().chunks(BLOCK) {
                continuation_before.push(seen);
                seen += continuation_bytes(block);
            }
        }
        Self {
            origin,
            text,
            line_starts,
            continuation_before,
        }
    }

    /// The number of UTF-8 continuation bytes in `text[..offset]`.
    fn continuation_prefix(&self, offset: usize) -> usize {
        if self.continuation_before.is_empty() {
            return 0;
        }
        let block = offset / BLOCK;
        let before = self.continuation_before.get(block).copied().unwrap_or(0);
        before + continuation_bytes(&self.text.as_bytes()[block * BLOCK..offset])
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

    /// The 1-based line and column of a byte offset, in time independent of the line's length.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1].min(offset);
        let continuation = self.continuation_prefix(offset) - self.continuation_prefix(start);
        let column = offset - start - continuation + 1;
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

/// Bytes `10xxxxxx`: the ones that do not start a character.
fn continuation_bytes(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xc0 == 0x80).count()
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
    #[error("{origin}:{line}:{column}: not UTF-8 text (byte 0x{byte:02X})")]
    NotUtf8 {
        /// Where it came from.
        origin: Origin,
        /// 1-based line of the first byte that is not UTF-8.
        line: usize,
        /// 1-based column (in characters) of that byte.
        column: usize,
        /// The byte.
        byte: u8,
    },
    /// An input is larger than [`MAX_SOURCE_BYTES`].
    #[error("{origin} is larger than {} MiB, the most flinkit reads as SQL", MAX_SOURCE_BYTES >> 20)]
    TooLarge {
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

impl InputError {
    /// Where in the input the problem is, when it is at one place (text that is not UTF-8).
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::NotUtf8 { line, column, .. } => Some(Position {
                line: *line,
                column: *column,
            }),
            _ => None,
        }
    }
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
                let bytes = read_capped(stdin, Origin::Stdin, Path::new("-"))?;
                sources.push(decode(Origin::Stdin, bytes)?);
            }
            Input::Path(path) => {
                for file in expand(path)? {
                    let mut reader =
                        std::fs::File::open(&file).map_err(|source| InputError::Read {
                            path: file.clone(),
                            source,
                        })?;
                    let origin = Origin::File(file.clone());
                    let bytes = read_capped(&mut reader, origin.clone(), &file)?;
                    sources.push(decode(origin, bytes)?);
                }
            }
        }
    }
    Ok(sources)
}

/// Reads all of `reader`, refusing more than [`MAX_SOURCE_BYTES`].
fn read_capped(reader: &mut dyn Read, origin: Origin, path: &Path) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(InputError::TooLarge { origin });
    }
    Ok(bytes)
}

fn decode(origin: Origin, bytes: Vec<u8>) -> Result<SourceFile, InputError> {
    let text = String::from_utf8(bytes).map_err(|err| {
        let valid = err.utf8_error().valid_up_to();
        let bytes = err.as_bytes();
        let byte = bytes[valid];
        // The valid prefix locates the byte: its line and column are those of a text that ends
        // there.
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let position = SourceFile::new(origin.clone(), prefix.to_string()).position(valid);
        InputError::NotUtf8 {
            origin: origin.clone(),
            line: position.line,
            column: position.column,
            byte,
        }
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

    #[test]
    fn positions_on_a_long_line_with_wide_characters() {
        let text = "é;".repeat(5000) + "x";
        let src = SourceFile::new(Origin::Stdin, text.clone());
        let x = text.len() - 1;
        assert_eq!(
            src.position(x),
            Position {
                line: 1,
                column: 10001
            }
        );
        assert_eq!(src.position(3), Position { line: 1, column: 3 });
    }

    #[test]
    fn invalid_utf8_is_located_and_huge_input_refused() {
        let bytes = b"SELECT 1;\nSELECT '\xe9\xff';".to_vec();
        let err = load_with_stdin(&[Input::Stdin], &mut bytes.as_slice()).unwrap_err();
        assert!(
            matches!(
                err,
                InputError::NotUtf8 {
                    line: 2,
                    column: 9,
                    byte: 0xe9,
                    ..
                }
            ),
            "{err:?}"
        );
        let mut zeros = std::io::repeat(0);
        let err = load_with_stdin(&[Input::Stdin], &mut zeros).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }), "{err:?}");
    }
}
