//! The path between the codes of two test images, joined by the chosen interpolation.

use super::view::{Ctx, DerivedView, NoView};
use crate::explore;
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, ExploreSettings, PATH_STEPS, clamp_to};

/// The path view.
pub struct Path;

impl DerivedView for Path {
    fn key(&self) -> ViewKey {
        ViewKey::Path
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Paths)
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let z = path_latents(run, &ctx.view.explore).ok_or_else(NoView::waiting_for_codes)?;
        let n = z.len() / run.latent_dim().max(1);
        Ok(Job::Decode {
            z,
            n,
            label: Some(ctx.cursor.label),
        })
    }

    /// Computed from the codes: asked again when they are redone.
    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }
}

/// The path's latent vectors for `run`: its codes of the two chosen test digits, joined by
/// the chosen interpolation. `None` until the codes are there.
fn path_latents(run: &Run, ex: &ExploreSettings) -> Option<Vec<f32>> {
    let s = run.views.stats.as_ref()?;
    let d = s.latent;
    let code = |i: usize| s.codes.get(i * d..(i + 1) * d);
    let (a, b) = (code(ex.path_from)?, code(ex.path_to)?);
    Some(explore::path(
        a,
        b,
        clamp_to(ex.path_steps, &PATH_STEPS),
        ex.path_kind,
    ))
}
