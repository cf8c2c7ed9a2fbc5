//! Records checked once, sent later: JSON lines are turned into [`OutRecord`]s (every line
//! checked against the table, its key taken from it) on every core, in order, and the encoded
//! records are written to a temporary file; sending then reads them back without parsing
//! anything again. Memory stays at a block of lines whatever the input's size (the file holds
//! the rest, like the copy of standard input it replaces).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, Write};

use super::input::{Encoder, InputError, Lines, read_error};
use super::produce::Step;
use super::{BridgeError, OutRecord};

/// A block of lines is encoded at once when it reaches this many bytes …
const BLOCK_BYTES: usize = 4 << 20;

/// … or this many lines.
const BLOCK_LINES: usize = 16_384;

/// The most threads that encode.
const MAX_THREADS: usize = 8;

/// An entry's first byte: a record follows.
const RECORD: u8 = 0;

/// An entry's first byte: an invalid line left out (with `skip_invalid`).
const SKIPPED: u8 = 1;

/// A length meaning "none" (a key or value that is absent).
const ABSENT: u32 = u32::MAX;

/// What to do with the lines of the input.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpoolOptions {
    /// Leave out lines 1 to `skip` (a resumed run).
    pub skip: u64,
    /// Leave out invalid lines (each a [`Step::Skip`] when sent) instead of failing.
    pub skip_invalid: bool,
    /// How many invalid lines to keep in [`Spooled::errors`] (the rest are only counted).
    pub keep_errors: usize,
}

/// The outcome of [`spool`].
#[derive(Debug)]
pub struct Spooled {
    /// The encoded records, to be sent with [`Spooled::steps`].
    pub file: File,
    /// Lines read after the skipped ones (blank lines aside).
    pub checked: u64,
    /// Invalid lines.
    pub invalid: u64,
    /// The first invalid lines, at most [`SpoolOptions::keep_errors`], in input order.
    pub errors: Vec<InputError>,
}

/// Reads every line of `reader`, encodes it with `encoder` (on up to as many threads as there
/// are cores), and writes the records to a temporary file. A line that is not valid is counted
/// (and kept, for the first ones); nothing stops at it. A read failure (a line longer than
/// [`super::input::MAX_LINE_BYTES`] included) is returned.
pub fn spool(
    reader: impl BufRead,
    encoder: &Encoder,
    options: SpoolOptions,
) -> Result<Spooled, BridgeError> {
    let io_error = |context: &str| {
        let context = context.to_string();
        move |source| BridgeError::Io { context, source }
    };
    let file = tempfile::tempfile().map_err(io_error("creating a temporary file"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    // A changelog's events depend on the rows before them (their before-images): one thread,
    // in input order.
    let threads = if encoder.table.as_ref().is_some_and(|t| t.is_changelog()) {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_THREADS)
    };
    let mut outcome = Outcome::default();
    let mut lines = Lines::new(reader);
    let mut block = Block::default();
    loop {
        let more = block.fill(&mut lines, options.skip).map_err(read_error)?;
        if !block.is_empty() {
            let parts = block.encode(encoder, threads, options);
            for part in parts {
                out.write_all(&part.bytes)
                    .map_err(io_error("writing the temporary file"))?;
                outcome.add(part, options.keep_errors);
            }
        }
        if !more {
            break;
        }
    }
    let mut file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .map_err(io_error("writing the temporary file"))?;
    file.rewind()
        .map_err(io_error("rewinding the temporary file"))?;
    Ok(Spooled {
        file,
        checked: outcome.checked,
        invalid: outcome.invalid,
        errors: outcome.errors,
    })
}

impl Spooled {
    /// The records to send, in input order: [`Step::Record`]s, and [`Step::Skip`]s for the
    /// invalid lines left out.
    pub fn steps(self) -> impl Iterator<Item = Result<Step, BridgeError>> {
        let mut reader = BufReader::with_capacity(1 << 20, self.file);
        std::iter::from_fn(move || match read_entry(&mut reader) {
            Ok(entry) => entry.map(Ok),
            Err(source) => Some(Err(BridgeError::Io {
                context: "reading the temporary file".into(),
                source,
            })),
        })
    }
}

/// What the blocks added up to.
#[derive(Default)]
struct Outcome {
    checked: u64,
    invalid: u64,
    errors: Vec<InputError>,
}

impl Outcome {
    fn add(&mut self, part: Part, keep: usize) {
        self.checked += part.checked;
        self.invalid += part.invalid;
        let room = keep.saturating_sub(self.errors.len());
        self.errors.extend(part.errors.into_iter().take(room));
    }
}

/// Lines read together: their text one after the other, and each one's number and end.
#[derive(Default)]
struct Block {
    text: Vec<u8>,
    lines: Vec<(u64, usize)>,
}

impl Block {
    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Empties the block and reads lines into it until it is full; false at the end of the
    /// input.
    fn fill<R: BufRead>(&mut self, lines: &mut Lines<R>, skip: u64) -> io::Result<bool> {
        self.text.clear();
        self.lines.clear();
        while self.text.len() < BLOCK_BYTES && self.lines.len() < BLOCK_LINES {
            let Some((line, text)) = lines.next_line()? else {
                return Ok(false);
            };
            if line <= skip {
                continue;
            }
            self.text.extend_from_slice(text);
            self.lines.push((line, self.text.len()));
        }
        Ok(true)
    }

    /// Encodes the block's lines, cut in `threads` parts, each on a thread of its own (the
    /// first on this one); the parts come back in order.
    fn encode(&self, encoder: &Encoder, threads: usize, options: SpoolOptions) -> Vec<Part> {
        let per_part = self.lines.len().div_ceil(threads).max(1);
        let mut from = 0;
        let cuts: Vec<(usize, &[(u64, usize)])> = self
            .lines
            .chunks(per_part)
            .map(|lines| {
                let start = from;
                from = lines.last().map_or(start, |&(_, end)| end);
                (start, lines)
            })
            .collect();
        let text = &self.text;
        std::thread::scope(|scope| {
            let mut cuts = cuts.into_iter();
            let first = cuts.next();
            let others: Vec<_> = cuts
                .map(|(from, lines)| {
                    scope.spawn(move || encode_part(encoder, text, from, lines, options))
                })
                .collect();
            let mut parts = Vec::with_capacity(others.len() + 1);
            if let Some((from, lines)) = first {
                parts.push(encode_part(encoder, text, from, lines, options));
            }
            for other in others {
                // A panic in a part is a panic here.
                parts.push(
                    other
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                );
            }
            parts
        })
    }
}

/// Encoded lines: the entries to write, and what was invalid.
#[derive(Default)]
struct Part {
    bytes: Vec<u8>,
    checked: u64,
    invalid: u64,
    errors: Vec<InputError>,
}

/// Encodes `lines` (each a number and where it ends in `text`; the first starts at `from`),
/// keeping the first [`SpoolOptions::keep_errors`] invalid lines' errors.
fn encode_part(
    encoder: &Encoder,
    text: &[u8],
    mut from: usize,
    lines: &[(u64, usize)],
    options: SpoolOptions,
) -> Part {
    let mut part = Part {
        bytes: Vec::with_capacity(text.len() * lines.len() / 8 + 1024),
        ..Part::default()
    };
    for &(line, end) in lines {
        let line_text = &text[from..end];
        from = end;
        part.checked += 1;
        match encoder.line(line, line_text) {
            Ok(record) => write_record(&mut part.bytes, line, &record),
            Err(error) => {
                part.invalid += 1;
                if options.skip_invalid {
                    part.bytes.push(SKIPPED);
                    part.bytes.extend_from_slice(&line.to_le_bytes());
                }
                if part.errors.len() < options.keep_errors {
                    part.errors.push(error);
                }
            }
        }
    }
    part
}

/// Appends a record's entry: its line, key, value, timestamp and properties, lengths first.
fn write_record(out: &mut Vec<u8>, line: u64, record: &OutRecord) {
    fn bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            None => out.extend_from_slice(&ABSENT.to_le_bytes()),
            Some(bytes) => {
                // Lines are at most 64 MiB (`MAX_LINE_BYTES`), far below `ABSENT`.
                let len = u32::try_from(bytes.len()).unwrap_or(ABSENT - 1);
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(&bytes[..len as usize]);
            }
        }
    }
    out.push(RECORD);
    out.extend_from_slice(&line.to_le_bytes());
    bytes(out, record.key.as_deref());
    bytes(out, record.value.as_deref());
    match record.timestamp {
        None => out.push(0),
        Some(ms) => {
            out.push(1);
            out.extend_from_slice(&ms.to_le_bytes());
        }
    }
    let count = u32::try_from(record.properties.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (name, value) in record.properties.iter().take(count as usize) {
        bytes(out, Some(name.as_bytes()));
        bytes(out, Some(value.as_bytes()));
    }
}

/// The next entry, `None` at the end.
fn read_entry(reader: &mut impl Read) -> io::Result<Option<Step>> {
    fn array<const N: usize>(reader: &mut impl Read) -> io::Result<[u8; N]> {
        let mut buf = [0; N];
        reader.read_exact(&mut buf)?;
        Ok(buf)
    }
    fn bytes(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
        let len = u32::from_le_bytes(array(reader)?);
        if len == ABSENT {
            return Ok(None);
        }
        let mut buf = vec![0; len as usize];
        reader.read_exact(&mut buf)?;
        Ok(Some(buf))
    }
    fn text(reader: &mut impl Read) -> io::Result<String> {
        let bytes = bytes(reader)?.unwrap_or_default();
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
    let mut tag = [0u8];
    if reader.read(&mut tag)? == 0 {
        return Ok(None);
    }
    let line = u64::from_le_bytes(array(reader)?);
    if tag[0] == SKIPPED {
        return Ok(Some(Step::Skip(line)));
    }
    let key = bytes(reader)?;
    let value = bytes(reader)?;
    let timestamp = match array::<1>(reader)?[0] {
        0 => None,
        _ => Some(i64::from_le_bytes(array(reader)?)),
    };
    let count = u32::from_le_bytes(array(reader)?);
    let mut properties = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        properties.push((text(reader)?, text(reader)?));
    }
    Ok(Some(Step::Record(
        line,
        OutRecord {
            key,
            value,
            properties,
            timestamp,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::input::Shape;
    use crate::sql::Script;
    use crate::vars::{Vars, substitute};

    fn encoder() -> Encoder {
        let script = Script::parse_str(
            "CREATE TABLE users (uid STRING, n INT, PRIMARY KEY (uid) NOT ENFORCED) WITH ( \
             'connector' = 'upsert-kafka', 'topic' = 'u', 'properties.bootstrap.servers' = 'x', \
             'key.format' = 'raw', 'value.format' = 'json')",
        )
        .unwrap();
        let table = crate::bridge::table::TableSpec::from_script(
            &script,
            &substitute(&script, &Vars::none()),
            "users",
        )
        .unwrap();
        Encoder {
            table: Some(table),
            shape: Shape::Envelope,
            properties: vec![("src".into(), "t".into())],
            ..Encoder::default()
        }
    }

    fn sent(spooled: Spooled) -> Vec<String> {
        spooled
            .steps()
            .map(|step| match step.unwrap() {
                Step::Record(line, r) => format!(
                    "{line} {:?} {:?} {:?} {:?}",
                    r.key.map(String::from_utf8),
                    r.value.map(String::from_utf8),
                    r.timestamp,
                    r.properties
                ),
                Step::Skip(line) => format!("{line} skipped"),
                Step::Wait(_) => "wait".into(),
            })
            .collect()
    }

    #[test]
    fn records_come_back_as_encoded_in_input_order() {
        let mut input = String::new();
        for n in 0..40_000 {
            input.push_str(&format!(
                "{{\"key\":\"k{n}\",\"value\":{{\"n\":{n}}},\"timestamp\":{n},\"properties\":{{\"p\":\"é\"}}}}\n"
            ));
            if n % 1000 == 0 {
                input.push_str("\n  \n");
            }
        }
        input.push_str(r#"{"key":"gone","value":null}"#);
        let encoder = encoder();
        let spooled = spool(input.as_bytes(), &encoder, SpoolOptions::default()).unwrap();
        assert_eq!((spooled.checked, spooled.invalid), (40_001, 0));
        let sent = sent(spooled);
        assert_eq!(sent.len(), 40_001);
        let mut lines = Lines::new(input.as_bytes());
        for expected in &sent {
            let (line, text) = lines.next_line().unwrap().unwrap();
            let r = encoder.line(line, text).unwrap();
            assert_eq!(
                *expected,
                format!(
                    "{line} {:?} {:?} {:?} {:?}",
                    r.key.map(String::from_utf8),
                    r.value.map(String::from_utf8),
                    r.timestamp,
                    r.properties
                )
            );
        }
        assert!(sent[40_000].ends_with("Some(Ok(\"gone\")) None None [(\"src\", \"t\")]"));
    }

    #[test]
    fn invalid_lines_are_counted_kept_or_skipped_and_skip_leaves_lines_out() {
        let input = "{\"key\":\"a\",\"value\":{\"n\":1}}\n\
                     {\"key\":\"b\",\"value\":{\"n\":\"x\"}}\n\
                     not json\n\
                     {\"key\":\"c\",\"value\":{\"n\":3}}\n";
        let options = SpoolOptions {
            keep_errors: 1,
            ..SpoolOptions::default()
        };
        let spooled = spool(input.as_bytes(), &encoder(), options).unwrap();
        assert_eq!((spooled.checked, spooled.invalid), (4, 2));
        assert_eq!(spooled.errors.len(), 1);
        assert_eq!(spooled.errors[0].line, 2);
        assert_eq!(sent(spooled).len(), 2, "invalid lines are not sent");

        let options = SpoolOptions {
            skip: 1,
            skip_invalid: true,
            keep_errors: 10,
        };
        let spooled = spool(input.as_bytes(), &encoder(), options).unwrap();
        assert_eq!((spooled.checked, spooled.invalid), (3, 2));
        let sent = sent(spooled);
        assert_eq!(sent.len(), 3);
        assert_eq!(
            (sent[0].as_str(), sent[1].as_str()),
            ("2 skipped", "3 skipped")
        );
        assert!(sent[2].starts_with("4 Some(Ok(\"c\"))"), "{}", sent[2]);
    }

    #[test]
    fn an_endless_line_is_refused_with_its_number() {
        let input = std::io::Read::chain(
            "{\"key\":\"a\",\"value\":null}\n".as_bytes(),
            std::io::repeat(b'x'),
        );
        let error = spool(BufReader::new(input), &encoder(), SpoolOptions::default()).unwrap_err();
        assert_eq!(error.input_line(), Some(2), "{error}");
    }
}
