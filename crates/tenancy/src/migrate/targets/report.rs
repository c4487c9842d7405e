//! What a run of `migrate` tells its caller: a report per target as it finishes, and the
//! tally at the end. The library only reports; the CLI decides how to print.

use super::super::Migration;

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetOutcome {
    /// Nothing was pending.
    UpToDate,
    /// This many migrations were applied.
    Migrated(usize),
    /// A dry run found these migrations pending (version, name); none was applied.
    WouldApply(Vec<(i32, &'static str)>),
    /// The target could not be migrated (or, in a dry run, read); the others went on.
    Failed(String),
}

impl TargetOutcome {
    /// What a dry run found: the pending migrations, or up to date.
    pub(super) fn pending(pending: Vec<&'static Migration>) -> Self {
        if pending.is_empty() {
            Self::UpToDate
        } else {
            Self::WouldApply(pending.iter().map(|m| (m.version, m.name)).collect())
        }
    }

    /// The outcome of applying: `applied` migrations, or an error with its causes.
    pub(super) fn applied(applied: anyhow::Result<usize>) -> Self {
        match applied {
            Ok(0) => Self::UpToDate,
            Ok(count) => Self::Migrated(count),
            Err(error) => Self::Failed(format!("{error:#}")),
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed(_))
    }
}

/// One line of the report: a target and what happened to it.
#[derive(Debug, Clone)]
pub struct MigrationReport {
    /// `catalog`, `shared`, `schema <id>` or `database <id> (cluster <name>)`.
    pub target: String,
    pub outcome: TargetOutcome,
}

impl std::fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            TargetOutcome::UpToDate => write!(f, "{}: ok (up to date)", self.target),
            TargetOutcome::Migrated(count) => write!(f, "{}: ok ({count} applied)", self.target),
            TargetOutcome::WouldApply(pending) => {
                let names: Vec<String> = pending
                    .iter()
                    .map(|(version, name)| format!("{version} {name}"))
                    .collect();
                write!(f, "{}: would apply {}", self.target, names.join(", "))
            }
            TargetOutcome::Failed(error) => write!(f, "{}: FAILED: {error}", self.target),
        }
    }
}

/// What the caller of `migrate_targets` is told, in order: the catalog's report, how many
/// targets the run has in all (so that a progress display knows its length), then a report
/// per target of tenant storage as each finishes, in no particular order.
#[derive(Debug, Clone)]
pub enum MigrationEvent {
    /// Every target of this run, the catalog included, is known; sent once.
    Planned {
        targets: usize,
    },
    Finished(MigrationReport),
}

/// The tally of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationSummary {
    pub dry_run: bool,
    pub migrated: usize,
    pub up_to_date: usize,
    /// Only in a dry run: targets with pending migrations.
    pub behind: usize,
    pub failed: usize,
}

impl MigrationSummary {
    pub(super) fn count(&mut self, outcome: &TargetOutcome) {
        match outcome {
            TargetOutcome::UpToDate => self.up_to_date += 1,
            TargetOutcome::Migrated(_) => self.migrated += 1,
            TargetOutcome::WouldApply(_) => self.behind += 1,
            TargetOutcome::Failed(_) => self.failed += 1,
        }
    }

    pub fn targets(&self) -> usize {
        self.migrated + self.up_to_date + self.behind + self.failed
    }

    pub fn all_succeeded(&self) -> bool {
        self.failed == 0
    }
}

impl std::fmt::Display for MigrationSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let targets = self.targets();
        if self.dry_run {
            write!(
                f,
                "{targets} targets: {} would be migrated, {} up to date, {} failed (dry run: nothing changed)",
                self.behind, self.up_to_date, self.failed
            )
        } else {
            write!(
                f,
                "{targets} targets: {} migrated, {} up to date, {} failed",
                self.migrated, self.up_to_date, self.failed
            )
        }
    }
}
