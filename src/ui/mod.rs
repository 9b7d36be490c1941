//! The desktop app: a workspace of runs side by side. Its parts:
//! - [`app`]: the app's state and how it starts; `frame`: eframe's callbacks.
//! - [`run`]: one model (training here, loaded, or followed), with its decoder, history,
//!   views and kept epochs; [`runs`]: the collection, the focused run, the baseline, the
//!   epoch scrubber and the shared latent cursor.
//! - [`settings`]: what is persisted (view settings and their bounds, the next run's
//!   draft, the workspace), apart from run state.
//! - [`command`]: what panels ask for, naming the run they act on; `logic` applies them in
//!   one place and turns worker, follower, decoder and file events into state.
//! - [`panels`]: one file per panel, each handed one [`panels::ViewCtx`]; panels only draw
//!   and push commands.
//! - [`sweeps`]: the sweep directories followed, their runs grouped by configuration;
//!   `sweeping` applies their followers' events (within a time budget per frame) and loads
//!   only the shown runs' weights; [`seeds`]: a configuration's runs as one (mean ± sd
//!   over seeds, curve bands).
//! - [`fit`]: how big image views are drawn (integer multiples of the image's pixels).
//! - [`decoder`]: one decode thread per run, started by its first request; [`io`]: loads,
//!   saves, exports and dialogs off the UI thread; [`measure`]: frame timing and the
//!   measurement mode's state.
//!
//! This file only declares the parts and re-exports what the rest of the crate uses.

mod align;
pub mod app;
pub mod command;
pub mod decoder;
pub mod exploring;
pub mod fit;
mod frame;
pub mod help;
pub mod holes;
pub mod io;
mod logic;
pub mod measure;
mod measuring;
pub mod nearest;
pub mod panels;
pub mod recent;
pub mod run;
pub mod runs;
pub mod seeds;
pub mod session;
pub mod settings;
pub mod shortcuts;
mod sweeping;
pub mod sweeps;
mod tiles;
mod views;
mod workspace;

pub use app::{AppOptions, ExplorerApp};
pub use command::{RunAction, UiCommand};
pub use run::{Run, RunId};
pub use runs::Runs;
pub use settings::{
    CompareTab, CurveTerm, CurveX, DeviceChoice, GridAxes, Layout, Persisted, RunDraft,
    ViewSettings, Workspace,
};
