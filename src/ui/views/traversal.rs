//! Traversals around the cursor's latent vector: one row per latent dimension, the most
//! informative first, swept over the stated range.

use super::view::{Ctx, DerivedView, NoView};
use crate::explore;
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, ExploreSettings, TRAVERSAL_ROWS, TRAVERSAL_STEPS, clamp_to};

/// The traversal view.
pub struct Traversal;

impl DerivedView for Traversal {
    fn key(&self) -> ViewKey {
        ViewKey::Traversal
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Traversals)
    }

    fn encodes_data(&self) -> bool {
        false
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let base = ctx.latent.as_ref().map_err(|e| NoView(e.clone()))?;
        let (z, n) = traversal_latents(run, base, &ctx.view.explore);
        Ok(Job::Decode {
            z,
            n,
            label: Some(ctx.cursor.label),
        })
    }

    /// Ranges and order come from the codes: asked again when they are redone.
    fn redo_on_new_weights(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        run.views.stats.is_none() || !ctx.cursor.follows_codes()
    }
}

/// Every latent dimension of `run`, the most informative first: the library's one order
/// ([`explore::DimensionStats::order`], as `traverse` prints its rows) once the run's
/// statistics are there, else by index. The sliders and the traversal rows follow it.
pub fn dimension_order(run: &Run) -> Vec<usize> {
    let d = run.latent_dim();
    match &run.views.stats {
        Some(s) if s.latent == d && s.dims.dim() == d => s.dims.order(),
        _ => (0..d).collect(),
    }
}

/// The dimensions a traversal shows for `run`: the first `rows` of [`dimension_order`].
pub fn traversal_dims(run: &Run, rows: usize) -> Vec<usize> {
    dimension_order(run)
        .into_iter()
        .take(clamp_to(rows, &TRAVERSAL_ROWS))
        .collect()
}

/// The traversal's latent vectors around `base`: rows are [`traversal_dims`], columns
/// the range's values.
fn traversal_latents(run: &Run, base: &[f32], ex: &ExploreSettings) -> (Vec<f32>, usize) {
    let d = base.len();
    let dims = traversal_dims(run, ex.traversal_rows);
    let codes = match &run.views.stats {
        Some(s) if s.latent == d => s.codes.as_slice(),
        _ => &[],
    };
    // A range from a settings file is checked here too (a quantile of 0 would be ±∞).
    let mode = match ex.traversal_range.validate() {
        Ok(()) => ex.traversal_range,
        Err(_) => explore::RangeMode::default(),
    };
    let ranges = explore::dim_ranges(codes, d, mode);
    let steps = clamp_to(ex.traversal_steps, &TRAVERSAL_STEPS);
    (
        explore::traversal_grid(base, &dims, &ranges, steps),
        dims.len() * steps,
    )
}
