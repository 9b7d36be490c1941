//! Reconstructions: the focused run's test images above their reconstructions.

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{RECON_COUNT, clamp_to};

/// The reconstructions view.
pub struct Recon;

impl DerivedView for Recon {
    fn key(&self) -> ViewKey {
        ViewKey::Recon
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.is_focus_run(run)
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let n = clamp_to(ctx.view.recon_count, &RECON_COUNT);
        Ok(Job::Recon((0..n).collect()))
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }
}
