//! The prior's holes: asked for only while the holes tab shows the run; run once per
//! mixture size and seed (Resample draws again and refits), not on every new snapshot.

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::holes::HolesJob;
use crate::ui::run::Run;
use crate::ui::settings::CompareTab;

/// The holes view.
pub struct Holes;

impl DerivedView for Holes {
    fn key(&self) -> ViewKey {
        ViewKey::Holes
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Holes)
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        Ok(Job::Holes(HolesJob {
            components: ctx.view.explore.holes_components,
            seed: ctx.cursor.prior_seed,
        }))
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }
}
