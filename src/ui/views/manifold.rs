//! A 2-d latent's decoded manifold under the latent map: a grid of decodes over the
//! codes' extent.

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, ExploreSettings, MANIFOLD_SIZE, clamp_to};

/// The manifold view.
pub struct Manifold;

impl DerivedView for Manifold {
    fn key(&self) -> ViewKey {
        ViewKey::Manifold
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Map) && manifold_shown(run, &ctx.view.explore)
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let s = run
            .views
            .stats
            .as_ref()
            .ok_or_else(NoView::waiting_for_codes)?;
        let ex = &ctx.view.explore;
        let k = clamp_to(ex.manifold_size, &MANIFOLD_SIZE);
        let dims = manifold_dims(ex);
        let [x0, x1, y0, y1] = manifold_extent(&s.codes, dims);
        let mut z = Vec::with_capacity(k * k * 2);
        let [a, b] = dims;
        // Cell centres, rows from the top (largest y) down.
        for r in 0..k {
            let y = y1 - (y1 - y0) * (r as f32 + 0.5) / k as f32;
            for c in 0..k {
                let x = x0 + (x1 - x0) * (c as f32 + 0.5) / k as f32;
                let mut v = [0.0f32; 2];
                v[a] = x;
                v[b] = y;
                z.extend(v);
            }
        }
        Ok(Job::Decode {
            z,
            n: k * k,
            label: Some(ctx.cursor.label),
        })
    }

    /// The extent comes from the codes: asked again when they are redone.
    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }
}

/// Whether `run`'s map shows the decoded manifold underneath: a 2-d latent (its map then
/// plots its two dimensions, whatever the axes setting).
pub fn manifold_shown(run: &Run, ex: &ExploreSettings) -> bool {
    ex.manifold && run.latent_dim() == 2
}

/// The two dimensions a 2-d latent's manifold spans: the map's, or (0, 1) when those name
/// one dimension twice.
pub fn manifold_dims(ex: &ExploreSettings) -> [usize; 2] {
    let (a, b) = (ex.map_dims[0].min(1), ex.map_dims[1].min(1));
    if a == b { [0, 1] } else { [a, b] }
}

/// The latent rectangle `[x0, x1, y0, y1]` the manifold covers: the codes' extent on the
/// map's two dimensions, widened by 5% each side.
pub fn manifold_extent(codes: &[f32], dims: [usize; 2]) -> [f32; 4] {
    let (a, b) = (dims[0].min(1), dims[1].min(1));
    let mut e = [f32::MAX, f32::MIN, f32::MAX, f32::MIN];
    for c in codes
        .chunks_exact(2)
        .filter(|c| c[0].is_finite() && c[1].is_finite())
    {
        e[0] = e[0].min(c[a]);
        e[1] = e[1].max(c[a]);
        e[2] = e[2].min(c[b]);
        e[3] = e[3].max(c[b]);
    }
    if e[0] > e[1] || e[2] > e[3] {
        return [-3.0, 3.0, -3.0, 3.0];
    }
    let (mx, my) = (
        0.05 * (e[1] - e[0]).max(1e-3),
        0.05 * (e[3] - e[2]).max(1e-3),
    );
    [e[0] - mx, e[1] + mx, e[2] - my, e[3] + my]
}
