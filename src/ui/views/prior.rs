//! Prior samples: the same noise decoded by every run.

use super::view::{Ctx, DerivedView, NoView};
use crate::explore::prior_noise;
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::CompareTab;

/// Prior samples per run.
const PRIOR_SAMPLES: usize = 64;

/// The prior samples view.
pub struct Prior;

impl DerivedView for Prior {
    fn key(&self) -> ViewKey {
        ViewKey::Prior
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.is_focus_run(run) || ctx.shows_tab(run, CompareTab::Prior)
    }

    fn encodes_data(&self) -> bool {
        false
    }

    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        // A VampPrior's draws need its pseudo-inputs encoded: done on the decode thread.
        if matches!(
            run.config.model.latent,
            crate::model::LatentKind::Vamp { .. }
        ) {
            return Ok(Job::PriorDraws {
                seed: ctx.cursor.prior_seed,
                n: PRIOR_SAMPLES,
            });
        }
        Ok(Job::Decode {
            z: prior_noise(ctx.cursor.prior_seed, PRIOR_SAMPLES, run.latent_dim()),
            n: PRIOR_SAMPLES,
            label: Some(ctx.cursor.label),
        })
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }
}
