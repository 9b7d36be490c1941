//! Encoder statistics: every shown run's codes of the first test images, each dimension's
//! statistics and the principal directions (the other views read them).

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::STATS_DIGITS;

/// The statistics view.
pub struct Stats;

impl DerivedView for Stats {
    fn key(&self) -> ViewKey {
        ViewKey::Stats
    }

    fn wanted(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }

    fn job(&self, _run: &Run, _ctx: &Ctx<'_>) -> Result<Job, NoView> {
        Ok(Job::Stats(STATS_DIGITS))
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }
}
