//! One decoded image's nearest training images: asked for from the image's context menu
//! (whatever the tab), run once per question, until its window is closed.

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::Run;

/// The nearest-training-images view.
pub struct Nearest;

impl DerivedView for Nearest {
    fn key(&self) -> ViewKey {
        ViewKey::Nearest
    }

    fn wanted(&self, run: &Run, _ctx: &Ctx<'_>) -> bool {
        run.views.nearest_query.is_some()
    }

    fn job(&self, run: &Run, _ctx: &Ctx<'_>) -> Result<Job, NoView> {
        run.views
            .nearest_query
            .clone()
            .map(Job::Nearest)
            .ok_or_else(|| NoView("no image asked about".into()))
    }

    fn redo_on_new_weights(&self, _run: &Run, _ctx: &Ctx<'_>) -> bool {
        false
    }
}
