//! Progress on stderr: a spinner per long step on a terminal, one plain line per step
//! elsewhere (CI logs), nothing on stdout.

use std::io::IsTerminal;
use std::time::Duration;

use flinkit::provision::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Shows provisioning and job progress on stderr.
pub struct Reporter {
    spinner: Option<ProgressBar>,
    terminal: bool,
    quiet: bool,
}

impl Reporter {
    /// A reporter; `quiet` shows only long steps (not cache hits).
    pub fn new(quiet: bool) -> Self {
        Self {
            spinner: None,
            terminal: std::io::stderr().is_terminal(),
            quiet,
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
            Progress::Started(step) => self.start(&step),
            Progress::Done(step, took) => {
                self.done(&format!("{step} ready in {}s", took.as_secs()))
            }
            Progress::Cached(step) if !self.quiet => self.done(&format!("{step} (cached)")),
            Progress::Cached(_) => {}
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.finish_spinner();
    }
}
