//! The amortisation gap: each of the map's test images scored under the ELBO and the IWAE
//! bound from the same k samples (the library's [`crate::explore::amortisation_gaps`]).

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, GAP_K, STATS_DIGITS, clamp_to};

/// The amortisation gap view.
pub struct Gap;

impl DerivedView for Gap {
    fn key(&self) -> ViewKey {
        ViewKey::Gap
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Gap)
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let ex = &ctx.view.explore;
        Ok(Job::Gap {
            k: clamp_to(ex.gap_k, &GAP_K),
            seed: ex.gap_seed,
            images: STATS_DIGITS,
        })
    }

    /// k decodes of every image take seconds: newer weights only mark the gaps stale
    /// (Rescore).
    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }

    fn again(&self, ctx: &Ctx<'_>) -> u64 {
        ctx.rescores
    }
}
