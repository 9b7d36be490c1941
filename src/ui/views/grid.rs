//! The interpolation grid around the cursor's latent vector, along two dimensions or the
//! run's top two principal directions.

use super::view::{Ctx, DerivedView, NoView};
use crate::explore;
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{GRID_SIZE, GridAxes, ViewSettings, clamp_to};

/// The interpolation grid view.
pub struct Grid;

impl DerivedView for Grid {
    fn key(&self) -> ViewKey {
        ViewKey::Grid
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_latents(run)
    }

    fn encodes_data(&self) -> bool {
        false
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let base = ctx.latent.as_ref().map_err(|e| NoView(e.clone()))?;
        let (z, n) = grid_latents(run, base, ctx.view);
        Ok(Job::Decode {
            z,
            n,
            label: Some(ctx.cursor.label),
        })
    }

    /// Codes and principal directions are redone with the weights, and the grid with them.
    fn redo_on_new_weights(&self, _run: &Run, ctx: &Ctx<'_>) -> bool {
        !(ctx.cursor.follows_codes() || ctx.view.grid_axes == GridAxes::Principal)
    }
}

/// The grid's latent vectors for `run` around `base`: the grid spans two directions (two
/// dimensions, or the run's top two principal directions), with `base`'s components along
/// them replaced (not added), so the grid is centred on the prior's mode.
fn grid_latents(run: &Run, base: &[f32], view: &ViewSettings) -> (Vec<f32>, usize) {
    let n = clamp_to(view.grid_size, &GRID_SIZE);
    // Aligned runs: the focused run's grid (its directions, around the cursor in its
    // coordinates), each point mapped back into this run.
    if view.explore.aligned
        && let Some(a) = &run.views.aligned
        && let Ok(fit) = &a.fit
        && fit.source_dim == base.len()
    {
        let principal = (a.principal.len() == 2).then_some(&a.principal);
        let (z, n) = grid_in(&fit.map(base), principal, view, n);
        let back = z
            .chunks_exact(fit.target_dim)
            .flat_map(|p| fit.map_back(p))
            .collect();
        return (back, n);
    }
    let principal = run
        .views
        .stats
        .as_ref()
        .filter(|s| s.principal.len() == 2 && s.latent == base.len())
        .map(|s| &s.principal);
    grid_in(base, principal, view, n)
}

/// The `n × n` grid around `base` along the two `principal` directions (when the axes are
/// principal and there are two) or the settings' two dimensions.
fn grid_in(
    base: &[f32],
    principal: Option<&Vec<Vec<f32>>>,
    view: &ViewSettings,
    n: usize,
) -> (Vec<f32>, usize) {
    let d = base.len();
    let (u, v) = match (view.grid_axes, principal) {
        (GridAxes::Principal, Some(p)) => (p[0].clone(), p[1].clone()),
        _ => (
            explore::axis(d, view.grid_dims[0].min(d - 1)),
            explore::axis(d, view.grid_dims[1].min(d - 1)),
        ),
    };
    let vals = explore::axis_values(n, view.grid_spacing, view.grid_range);
    let mut base = base.to_vec();
    let pu: f32 = base.iter().zip(&u).map(|(a, b)| a * b).sum();
    let pv: f32 = base.iter().zip(&v).map(|(a, b)| a * b).sum();
    for j in 0..d {
        base[j] -= pu * u[j] + pv * v[j];
    }
    (explore::grid_latents(&base, &u, &v, &vals, &vals), n * n)
}
