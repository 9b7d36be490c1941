//! The same-input matrix: each run's column of reconstructions (or their error heat map)
//! of the same test images.

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::{CompareTab, MATRIX_ROWS, clamp_to};

/// The same-input matrix view.
pub struct Matrix;

impl DerivedView for Matrix {
    fn key(&self) -> ViewKey {
        ViewKey::Matrix
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_tab(run, CompareTab::SameInput)
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let first = ctx.view.matrix_first;
        let rows = clamp_to(ctx.view.matrix_rows, &MATRIX_ROWS);
        Ok(Job::Matrix {
            indices: (first..first + rows).collect(),
            heat: ctx.view.heatmap,
        })
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        true
    }
}
