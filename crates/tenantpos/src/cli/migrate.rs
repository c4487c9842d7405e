//! `tenantpos migrate`: a line per target on stdout, a progress bar on a terminal.

use std::io::IsTerminal;

use tenancy::migrate::{MigrationEvent, MigrationOptions, migrate_targets};

use crate::config::Settings;

/// Runs every migration with the default options (as `demo` does).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    migrate_with(settings, &MigrationOptions::default()).await
}

/// Runs the migrations `options` choose, printing a line per target and a summary; fails
/// when any target failed.
pub async fn migrate_with(settings: &Settings, options: &MigrationOptions) -> anyhow::Result<()> {
    let storage = settings.storage()?;
    let mut progress = MigrationProgress::new(std::io::stderr().is_terminal());
    let summary = migrate_targets(&storage, options, |event| progress.show(event)).await;
    progress.finish();
    let summary = summary?;
    println!("{summary}");
    anyhow::ensure!(
        summary.all_succeeded() || options.dry_run,
        "{} of {} targets failed; run `tenantpos migrate` again once fixed (only what is pending is applied)",
        summary.failed,
        summary.targets()
    );
    anyhow::ensure!(
        summary.all_succeeded(),
        "{} of {} targets could not be read",
        summary.failed,
        summary.targets()
    );
    Ok(())
}

/// Prints each target's line on stdout as it finishes and, when stderr is a terminal, keeps a
/// progress bar there, hidden while a line is printed so that the two never garble each other.
struct MigrationProgress {
    on_terminal: bool,
    bar: Option<indicatif::ProgressBar>,
    finished: u64,
    failed: u64,
}

impl MigrationProgress {
    fn new(on_terminal: bool) -> Self {
        Self {
            on_terminal,
            bar: None,
            finished: 0,
            failed: 0,
        }
    }

    fn show(&mut self, event: MigrationEvent) {
        match event {
            MigrationEvent::Planned { targets } if self.on_terminal => {
                let style = indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} targets, {msg}",
                )
                .expect("a valid progress template")
                .progress_chars("=> ");
                let bar = indicatif::ProgressBar::new(targets as u64).with_style(style);
                // The catalog may be done before the count of targets is known.
                bar.set_position(self.finished);
                bar.set_message(self.failures());
                self.bar = Some(bar);
            }
            MigrationEvent::Planned { .. } => {}
            MigrationEvent::Finished(report) => {
                self.finished += 1;
                self.failed += u64::from(report.outcome.is_failure());
                match &self.bar {
                    Some(bar) => {
                        bar.suspend(|| println!("{report}"));
                        bar.inc(1);
                        bar.set_message(self.failures());
                    }
                    None => println!("{report}"),
                }
            }
        }
    }

    fn failures(&self) -> String {
        format!("{} failed", self.failed)
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
