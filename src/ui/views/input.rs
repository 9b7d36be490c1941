//! The user's input: encoded, reconstructed and scored by every shown run (its code can
//! drive every view).

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;

/// The input view.
pub struct Input;

impl DerivedView for Input {
    fn key(&self) -> ViewKey {
        ViewKey::Input
    }

    fn wanted(&self, _run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.input.is_some()
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let pixels = ctx.input.ok_or_else(|| NoView("no input".into()))?;
        Ok(Job::Input {
            pixels: pixels.clone(),
            label: ctx.cursor.label,
            seed: ctx.view.explore.anomaly_seed,
        })
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }

    fn again(&self, ctx: &Ctx<'_>) -> u64 {
        ctx.inputs_set
    }
}
