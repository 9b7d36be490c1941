//! The map's t-SNE embedding of a run's codes, computed when first shown and on request
//! (Reembed), not on every refresh of the codes (it takes seconds).

use std::sync::Arc;

use super::manifold::manifold_shown;
use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, MapAxes};

/// The t-SNE embedding view.
pub struct Embedding;

impl DerivedView for Embedding {
    fn key(&self) -> ViewKey {
        ViewKey::Embedding
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Map)
            && !manifold_shown(run, &ctx.view.explore)
            && ctx.view.explore.map_axes == MapAxes::Tsne
    }

    fn job(&self, run: &Run, _ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let s = run
            .views
            .stats
            .as_ref()
            .ok_or_else(NoView::waiting_for_codes)?;
        Ok(Job::Embed {
            codes: Arc::new(s.codes.clone()),
            dim: s.latent,
            step: s.step,
        })
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }

    fn again(&self, ctx: &Ctx<'_>) -> u64 {
        ctx.reembeds
    }

    fn on_request_only(&self) -> bool {
        true
    }
}
