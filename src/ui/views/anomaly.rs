//! Anomaly scores: every test image and a shifted set scored (the library's report).

use super::view::{Ctx, DerivedView, NoView};
use crate::explore::AnomalyQuery;
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{ANOMALY_IWAE_K, CompareTab, clamp_to};

/// The anomaly scores view.
pub struct Anomaly;

impl DerivedView for Anomaly {
    fn key(&self) -> ViewKey {
        ViewKey::Anomaly
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::Anomalies)
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let ex = &ctx.view.explore;
        let q = AnomalyQuery {
            shift: ex.shift,
            iwae_k: clamp_to(ex.anomaly_iwae_k, &ANOMALY_IWAE_K),
            seed: ex.anomaly_seed,
        };
        Ok(Job::Anomaly {
            shift: q.shift,
            iwae_k: q.iwae_k,
            seed: q.seed,
            held_out: run.dataset.held_out_class,
        })
    }

    /// Scoring takes seconds: newer weights only mark the report stale (Rescore).
    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }

    fn again(&self, ctx: &Ctx<'_>) -> u64 {
        ctx.rescores
    }
}
