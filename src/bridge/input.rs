//! placeholder
/// A bad input record.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct InputError {
    /// The 1-based input line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}
