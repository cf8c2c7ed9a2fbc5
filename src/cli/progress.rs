//! Progress on stderr: a spinner per long step on a terminal (with the bytes Maven has
//! downloaded so far and the rate), one plain line per step elsewhere (CI logs), nothing on
//! stdout.

use std::io::IsTerminal;
use std::time::Duration;

use flinkit::provision::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Shows provisioning and job progress on stderr.
pub struct Reporter {
    spinner: Option<ProgressBar>,
    terminal: bool,
    quiet: bool,
    /// The running provisioning step's message and what Maven has downloaded for it so far.
    step: Option<(String, Option<(u64, Duration)>)>,
}

impl Reporter {
    /// A reporter; `quiet` shows only long steps (not cache hits).
    pub fn new(quiet: bool) -> Self {
        Self {
            spinner: None,
            terminal: std::io::stderr().is_terminal(),
            quiet,
            step: None,
        }
    }

    /// Starts a spinner (or prints a line) for a step that may take a while.
    pub fn start(&mut self, message: &str) {
        self.finish_spinner();
        if self.terminal {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(message.to_string());
            spinner.enable_steady_tick(Duration::from_millis(120));
            self.spinner = Some(spinner);
        } else {
            eprintln!("flinkit: {message} …");
        }
    }

    /// Replaces the spinner with a finished line.
    pub fn done(&mut self, message: &str) {
        self.finish_spinner();
        eprintln!("✓ {message}");
    }

    /// Updates the current spinner's message.
    pub fn update(&mut self, message: &str) {
        match &self.spinner {
            Some(spinner) => spinner.set_message(message.to_string()),
            None => self.start(message),
        }
    }

    fn finish_spinner(&mut self) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    /// Handles a provisioning event.
    pub fn provision(&mut self, event: Progress) {
        match event {
            Progress::Started(step) => {
                self.start(&step);
                self.step = Some((step, None));
            }
            Progress::Downloaded { bytes, elapsed } => {
                if let Some((message, downloaded)) = &mut self.step {
                    *downloaded = Some((bytes, elapsed));
                    let line = format!("{message}: {}", transfer(bytes, elapsed));
                    if let Some(spinner) = &self.spinner {
                        spinner.set_message(line);
                    }
                }
            }
            Progress::Done(step, took) => {
                let downloaded = match self.step.take() {
                    Some((_, Some((bytes, elapsed)))) => {
                        format!(", downloaded {}", transfer(bytes, elapsed))
                    }
                    _ => String::new(),
                };
                self.done(&format!("{step} ready in {}s{downloaded}", took.as_secs()))
            }
            Progress::Cached(step) if !self.quiet => self.done(&format!("{step} (cached)")),
            Progress::Cached(_) => {}
        }
    }
}

/// `123.4 MB at 2.9 MB/s` (decimal units, as Maven counts).
fn transfer(bytes: u64, elapsed: Duration) -> String {
    let mb = bytes as f64 / 1e6;
    let rate = mb / elapsed.as_secs_f64().max(0.001);
    format!("{mb:.1} MB at {rate:.1} MB/s")
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish_spinner();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_show_megabytes_and_the_rate() {
        assert_eq!(
            transfer(123_400_000, Duration::from_secs(40)),
            "123.4 MB at 3.1 MB/s"
        );
        assert_eq!(transfer(0, Duration::ZERO), "0.0 MB at 0.0 MB/s");
    }
}
