//! The sweeps the workspace follows: each sweep's runs grouped by configuration (runs that
//! differ only by seed are one), which of them are in the workspace, and the one follower
//! that reads all their directories.
//!
//! A run joins the workspace when its directory gets its first record (its `start`): a
//! planned run is counted in its sweep's and its configuration's headers, not added as a
//! placeholder run. A placeholder would be a row with no figures, a curve with no points
//! and a column with no images, for each of possibly hundreds of runs queued on a cluster;
//! the counts say what is still to come, and the run appears as soon as it starts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eframe::egui::Color32;

use super::run::{PALETTE, RunId, SweepId};
use crate::sweep::follow::{OpenedSweep, SweepFollower, SweepGroup, SweepRun};

/// Where one planned run of a sweep stands in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Not started (its directory has no record yet): counted, not shown.
    Planned,
    /// In the workspace as this run.
    In(RunId),
    /// Taken out of the workspace by the user: its records are no longer applied.
    Removed,
}

/// Configurations of a sweep whose first run shows its images when it joins (a sweep's
/// other runs show theirs when asked): a handful of columns, whatever the sweep's size.
pub const SHOWN_CONFIGURATIONS: usize = 4;

/// A sweep directory the workspace follows.
pub struct FollowedSweep {
    /// Identity.
    pub id: SweepId,
    /// The sweep directory.
    pub dir: PathBuf,
    /// Its name (the directory's).
    pub name: String,
    /// Its runs, in plan order.
    pub runs: Vec<SweepRun>,
    /// Its configurations, in the order of their first run.
    pub groups: Vec<SweepGroup>,
    /// Each planned run's place in the workspace, in plan order.
    pub members: Vec<Member>,
    /// Reads every run directory of the sweep.
    pub follower: SweepFollower,
    /// When following it was asked for.
    pub requested: Instant,
    /// How long it took from [`FollowedSweep::requested`] until every run that had started
    /// was in the workspace with every record read so far (the time to open it).
    pub opened_in: Option<Duration>,
    /// Problems with runs not in the workspace (a damaged line of a removed run, an
    /// unreadable `run.toml`), newest last.
    pub errors: Vec<String>,
}

impl FollowedSweep {
    /// Follow `opened` with `follower`, asked for at `requested`.
    pub fn new(
        id: SweepId,
        opened: OpenedSweep,
        follower: SweepFollower,
        requested: Instant,
    ) -> Self {
        let dir = opened.plan.dir.clone();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let errors = opened
            .runs
            .iter()
            .filter_map(|r| r.config_error.clone())
            .collect();
        Self {
            id,
            dir,
            name,
            members: vec![Member::Planned; opened.runs.len()],
            runs: opened.runs,
            groups: opened.groups,
            follower,
            requested,
            opened_in: None,
            errors,
        }
    }

    /// The workspace run of plan entry `index`, if it is in.
    pub fn member(&self, index: usize) -> Option<RunId> {
        match self.members.get(index) {
            Some(Member::In(id)) => Some(*id),
            _ => None,
        }
    }

    /// The workspace runs of configuration `group`, in plan order.
    pub fn group_members(&self, group: usize) -> Vec<RunId> {
        self.groups
            .get(group)
            .map(|g| g.runs.iter().filter_map(|&i| self.member(i)).collect())
            .unwrap_or_default()
    }

    /// The planned runs of configuration `group` not started yet, by name.
    pub fn group_planned(&self, group: usize) -> Vec<&str> {
        self.groups
            .get(group)
            .map(|g| {
                g.runs
                    .iter()
                    .filter(|&&i| self.members.get(i) == Some(&Member::Planned))
                    .map(|&i| self.runs[i].entry.name.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs not started yet.
    pub fn planned(&self) -> usize {
        self.members
            .iter()
            .filter(|m| **m == Member::Planned)
            .count()
    }

    /// Runs in the workspace.
    pub fn in_workspace(&self) -> usize {
        self.members
            .iter()
            .filter(|m| matches!(m, Member::In(_)))
            .count()
    }
}

/// The colour of configuration `group` of a sweep: its runs share it, so seeds of one
/// configuration read as one colour in curves, frames and tables.
pub fn group_colour(group: usize) -> Color32 {
    PALETTE[group % PALETTE.len()]
}
