//! What every derived view declares ([`DerivedView`]) and what its decisions read ([`Ctx`]).

use std::sync::Arc;

use crate::ui::decoder::{Job, ViewKey};
use crate::ui::run::{Run, RunId};
use crate::ui::runs::{LatentCursor, WAITING_FOR_CODES};
use crate::ui::settings::{CompareTab, Layout, ViewSettings};

/// Why a wanted view has no job for a run now (e.g. its codes have not arrived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoView(pub String);

impl NoView {
    /// The view is computed from the run's codes, which have not arrived.
    pub fn waiting_for_codes() -> Self {
        Self(WAITING_FOR_CODES.to_string())
    }
}

/// What a view's decisions read: the settings, the shared cursor and input, and the
/// cursor's latent vector for the run at hand.
pub struct Ctx<'a> {
    /// The view settings.
    pub view: &'a ViewSettings,
    /// The shared latent cursor.
    pub cursor: &'a LatentCursor,
    /// The user's input image, if any.
    pub input: Option<&'a Arc<Vec<f32>>>,
    /// The focused run.
    pub focused: Option<RunId>,
    /// How often the anomaly scores were asked for again (Rescore).
    pub rescores: u64,
    /// How often the map's t-SNE embedding was asked for again (Reembed).
    pub reembeds: u64,
    /// How many inputs were set (the same pixels set again are encoded again).
    pub inputs_set: u64,
    /// The latent vector the cursor gives the run, or why there is none.
    pub latent: Result<Vec<f32>, String>,
}

impl Ctx<'_> {
    /// Whether `run` shows the compare tab `tab`: in the compare layout, or as the focused
    /// run's lower half (exploring tabs only).
    pub fn shows_tab(&self, run: &Run, tab: CompareTab) -> bool {
        self.view.compare_tab == tab
            && match self.view.layout {
                Layout::Compare => true,
                Layout::Focus => self.focused == Some(run.id) && tab.is_exploring(),
            }
    }

    /// Whether `run` is the focus layout's run.
    pub fn is_focus_run(&self, run: &Run) -> bool {
        self.view.layout == Layout::Focus && self.focused == Some(run.id)
    }

    /// Whether `run` shows the latent sliders and the grid: the compare layout's latents
    /// tab, or the focus layout's lower half when no exploring tab replaces them.
    pub fn shows_latents(&self, run: &Run) -> bool {
        match self.view.layout {
            Layout::Compare => self.view.compare_tab == CompareTab::Latents,
            Layout::Focus => self.is_focus_run(run) && !self.view.compare_tab.is_exploring(),
        }
    }
}

/// One derived view of a run.
pub trait DerivedView: Sync {
    /// Which view this is.
    fn key(&self) -> ViewKey;

    /// Whether the layout shows it for `run` (a shown run; data that does not fit the
    /// model is checked apart, with [`DerivedView::encodes_data`]).
    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool;

    /// Whether it encodes the run's data (then not asked for when the data does not fit the
    /// model).
    fn encodes_data(&self) -> bool {
        true
    }

    /// The job that makes it for `run` now, or why there is none yet.
    fn job(&self, run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView>;

    /// Whether newer weights redo the job (else it runs once: e.g. a view computed from
    /// codes, which are themselves redone, and asked for again when they change).
    fn redo_on_new_weights(&self, run: &Run, ctx: &Ctx<'_>) -> bool;

    /// A counter the user bumps to have the same job run again (e.g. Rescore).
    fn again(&self, _ctx: &Ctx<'_>) -> u64 {
        0
    }

    /// Whether only [`DerivedView::again`] asks for the job again (its inputs, such as
    /// the codes, change often and its job is costly: it is built only when asked).
    fn on_request_only(&self) -> bool {
        false
    }
}
