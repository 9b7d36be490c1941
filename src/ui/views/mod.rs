//! Derived views: one file per view says when the view is wanted, the decode job it needs
//! from a run (or why it shows nothing yet) and whether newer weights redo it. Each frame
//! `ExplorerApp::request_views` works out every shown run's jobs from the current
//! settings, cursor and codes, and asks a run's decoder only for a job that differs from
//! the one last asked: settings and commands just edit state, and the next frame notices.
//!
//! Adding a view: a file here (a [`DerivedView`] and its entry in [`VIEWS`]), a
//! [`ViewKey`], its panel, its settings and its help.

mod anomaly;
mod embedding;
mod gap;
mod grid;
mod holes;
mod input;
mod manifold;
mod matrix;
mod nearest;
mod path;
mod prior;
mod recon;
mod slider;
mod stats;
mod traversal;
mod view;

use super::app::ExplorerApp;
use super::decoder::{Ask, Job, ViewKey};
use super::run::{Asked, Run};
use super::runs::WAITING_FOR_CODES;

pub use manifold::{manifold_dims, manifold_extent, manifold_shown};
pub use traversal::{dimension_order, traversal_dims};
use view::{Ctx, DerivedView};

/// Every derived view, in the order their jobs are asked for.
pub const VIEWS: [&dyn DerivedView; 15] = [
    &recon::Recon,
    &stats::Stats,
    &slider::Slider,
    &grid::Grid,
    &prior::Prior,
    &matrix::Matrix,
    &path::Path,
    &traversal::Traversal,
    &manifold::Manifold,
    &embedding::Embedding,
    &anomaly::Anomaly,
    &input::Input,
    &gap::Gap,
    &holes::Holes,
    &nearest::Nearest,
];

/// What one frame changes for one run's views.
#[derive(Default)]
struct Plan {
    /// Views no longer wanted whose decoder jobs are dropped.
    gone: Vec<ViewKey>,
    /// Jobs to ask for.
    asks: Vec<(ViewKey, Job, Asked)>,
    /// Why the cursor's views show nothing for the run (not "waiting for codes").
    issue: Option<String>,
}

/// The run's plan for this frame: each view's job compared with the one last asked.
fn plan(run: &Run, ctx: &Ctx<'_>, shown: bool) -> Plan {
    let mut p = Plan {
        issue: ctx
            .latent
            .as_ref()
            .err()
            .filter(|e| e.as_str() != WAITING_FOR_CODES)
            .cloned(),
        ..Plan::default()
    };
    let fits = run.data_fits();
    for v in VIEWS {
        let key = v.key();
        let last = run.views.asked.get(&key);
        if !(shown && (fits || !v.encodes_data()) && v.wanted(run, ctx)) {
            // A job redone on new weights stops; a one-off job is left to finish (its
            // result shows when the view is wanted again).
            if last.is_some_and(|a| a.keep) {
                p.gone.push(key);
            }
            continue;
        }
        let again = v.again(ctx);
        if v.on_request_only() && last.is_some_and(|a| a.again == again) {
            continue;
        }
        // No job yet: the last one asked (if any) stays.
        let Ok(job) = v.job(run, ctx) else {
            continue;
        };
        let asked = Asked {
            again,
            keep: v.redo_on_new_weights(run, ctx),
        };
        if last == Some(&asked) && run.views.jobs.get(&key) == Some(&job) {
            continue;
        }
        p.asks.push((key, job, asked));
    }
    p
}

impl ExplorerApp {
    /// Ask every run's decoder for the jobs of its wanted views that changed since they
    /// were last asked, and drop the jobs of views no longer wanted.
    pub(super) fn request_views(&mut self) {
        let inline_ok = !self.gpu_buffers;
        for id in self.runs.ids() {
            let Some(run) = self.runs.get(id) else {
                continue;
            };
            let ctx = Ctx {
                view: &self.persisted.view,
                cursor: &self.runs.cursor,
                input: self.runs.input.as_ref(),
                focused: self.runs.focused,
                rescores: self.runs.rescores,
                reembeds: self.runs.reembeds,
                inputs_set: self.runs.inputs_set,
                latent: self.runs.cursor.latent_for(run),
            };
            let p = plan(run, &ctx, self.runs.shows_views(run));
            let focused = self.runs.focused == Some(id);
            let Some(run) = self.runs.get_mut(id) else {
                continue;
            };
            run.views.issue = p.issue;
            if !p.gone.is_empty() {
                run.decoder.forget(&p.gone);
                for k in &p.gone {
                    run.views.asked.remove(k);
                }
            }
            // Codes that arrived since the last frame ask again without the user waiting.
            let refresh = run.views.codes_version != run.views.codes_seen;
            run.views.codes_seen = run.views.codes_version;
            for (key, job, asked) in p.asks {
                let urgent = !refresh || !run.views.asked.contains_key(&key);
                let how = Ask {
                    urgent,
                    keep: asked.keep,
                };
                run.views.asked.insert(key, asked);
                run.views.jobs.insert(key, job.clone());
                let rid = run.decoder.request(key, job.clone(), how);
                run.views.requested.insert(key, rid);
                if key == ViewKey::Slider {
                    let inline = inline_ok && slider::decode_inline(run, rid, &job, &self.device);
                    // Latency is what the user waits for: count only requests they caused.
                    if focused && urgent {
                        self.frames.slider_requested(rid);
                        if inline {
                            self.frames.slider_image(rid);
                        }
                    }
                }
            }
        }
    }
}
