//! Decode requests: which views each run needs in the current layout, and the jobs that
//! keep them up to date with the shared latent cursor, the grid specification and the
//! same-input matrix; the slider image is decoded on the UI thread when that is fast.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::ExplorerApp;
use super::decoder::{self, Job, Output, ViewKey};
use super::run::{Run, RunId};
use super::runs::{WAITING_FOR_CODES, prior_noise};
use super::settings::{CompareTab, GridAxes, Layout, ViewSettings};
use crate::explore;

/// Longest a slider decode may take on the UI thread before decoding moves off it.
const INLINE_DECODE_BUDGET: Duration = Duration::from_millis(3);

/// Prior samples per run.
const PRIOR_SAMPLES: usize = 64;

/// Test digits encoded for a run's statistics (codes for "follow digit", KL per dimension,
/// principal directions).
const STATS_DIGITS: usize = 1000;

impl ExplorerApp {
    /// The views each run needs now, given the layout.
    fn wanted_views(&self, run: RunId) -> BTreeSet<ViewKey> {
        let v = &self.persisted.view;
        let mut want = BTreeSet::from([ViewKey::Stats]);
        match v.layout {
            Layout::Focus => {
                if self.runs.focused == Some(run) {
                    want.extend([
                        ViewKey::Recon,
                        ViewKey::Slider,
                        ViewKey::Grid,
                        ViewKey::Prior,
                    ]);
                }
            }
            Layout::Compare => match v.compare_tab {
                CompareTab::Latents => {
                    want.extend([ViewKey::Slider, ViewKey::Grid]);
                }
                CompareTab::SameInput => {
                    want.insert(ViewKey::Matrix);
                }
                CompareTab::Prior => {
                    want.insert(ViewKey::Prior);
                }
            },
        }
        want
    }

    pub(super) fn request_views(&mut self) {
        let focused = self.runs.focused;
        let device = self.device.clone();
        for id in self.runs.ids() {
            let want = self.wanted_views(id);
            let cursor = self.runs.cursor.clone();
            let view = self.persisted.view.clone();
            let inline_ok = !self.gpu_buffers;
            let Some(run) = self.runs.get_mut(id) else {
                continue;
            };
            // Views no longer shown stop being refreshed; views shown again are requested.
            let forgotten: Vec<ViewKey> = run
                .decoder
                .kept_views()
                .into_iter()
                .filter(|k| !want.contains(k))
                .collect();
            if !forgotten.is_empty() {
                run.decoder.forget(&forgotten);
                run.views.dirty.urgent = true;
                for k in &forgotten {
                    match k {
                        ViewKey::Slider => run.views.dirty.latent = true,
                        ViewKey::Grid => run.views.dirty.grid = true,
                        ViewKey::Prior => run.views.dirty.prior = true,
                        ViewKey::Matrix => run.views.dirty.matrix = true,
                        ViewKey::Recon | ViewKey::Stats => run.views.dirty.recon = true,
                    }
                }
            }
            let d = run.latent_dim();
            let label = Some(cursor.label);
            let urgent = run.views.dirty.urgent;
            if run.views.dirty.recon {
                if want.contains(&ViewKey::Recon) {
                    let n = view.recon_count.clamp(1, 32);
                    run.decoder
                        .request(ViewKey::Recon, Job::Recon((0..n).collect()), urgent);
                }
                run.decoder
                    .request(ViewKey::Stats, Job::Stats(STATS_DIGITS), urgent);
                run.views.dirty.recon = false;
            }
            let latent = cursor.latent_for(run);
            run.views.issue = latent
                .as_ref()
                .err()
                .filter(|e| e.as_str() != WAITING_FOR_CODES)
                .cloned();
            if run.views.dirty.latent
                && want.contains(&ViewKey::Slider)
                && let Ok(z) = &latent
            {
                let job = Job::Decode {
                    z: z.clone(),
                    n: 1,
                    label,
                };
                // The decode thread keeps the job to redo it on newer snapshots.
                let rid = run.decoder.request(ViewKey::Slider, job.clone(), urgent);
                let inline = inline_ok && decode_slider_inline(run, rid, &job, &device);
                // Latency is what the user waits for: count only requests they caused.
                if Some(id) == focused && urgent {
                    self.frames.slider_requested(rid);
                    if inline {
                        self.frames.slider_image(rid);
                    }
                }
                run.views.dirty.latent = false;
            }
            if run.views.dirty.grid
                && want.contains(&ViewKey::Grid)
                && let Ok(z) = &latent
            {
                let (zs, n) = grid_latents(run, z, &view);
                run.decoder
                    .request(ViewKey::Grid, Job::Decode { z: zs, n, label }, urgent);
                run.views.dirty.grid = false;
            }
            if run.views.dirty.prior && want.contains(&ViewKey::Prior) {
                let z = prior_noise(cursor.prior_seed, PRIOR_SAMPLES, d);
                run.decoder.request(
                    ViewKey::Prior,
                    Job::Decode {
                        z,
                        n: PRIOR_SAMPLES,
                        label,
                    },
                    urgent,
                );
                run.views.dirty.prior = false;
            }
            if run.views.dirty.matrix && want.contains(&ViewKey::Matrix) {
                let first = view.matrix_first;
                let rows = view.matrix_rows.clamp(1, 32);
                run.decoder.request(
                    ViewKey::Matrix,
                    Job::Matrix {
                        indices: (first..first + rows).collect(),
                        heat: view.heatmap,
                    },
                    urgent,
                );
                run.views.dirty.matrix = false;
            }
            // What stays dirty waits for codes or a model; when it goes out, it is a refresh.
            if !(run.views.dirty.latent || run.views.dirty.grid) {
                run.views.dirty.urgent = false;
            }
        }
    }
}

/// On the CPU, decode the slider's single image on the UI thread when that is fast (it
/// usually takes ~0.1 ms), so the image changes in the same frame as the drag. A decode
/// slower than [`INLINE_DECODE_BUDGET`] turns this off for the run; its decode thread then
/// delivers the image a frame later. Returns whether the image was decoded here.
fn decode_slider_inline(run: &mut Run, id: u64, job: &Job, device: &burn::tensor::Device) -> bool {
    if !run.views.inline_decode {
        return false;
    }
    let Some(snap) = run.shown() else {
        return false;
    };
    let t0 = Instant::now();
    let out = decoder::execute(
        ViewKey::Slider,
        id,
        job,
        &snap,
        &run.data,
        device,
        false,
        t0,
    );
    if t0.elapsed() > INLINE_DECODE_BUDGET {
        run.views.inline_decode = false;
    }
    match out {
        Output::Images(key, img) => {
            run.set_image(key, img);
            true
        }
        _ => false,
    }
}

/// The grid's latent vectors for `run` around `base`: the grid spans two directions (two
/// dimensions, or the run's top two principal directions), with `base`'s components along
/// them replaced (not added), so the grid is centred on the prior's mode.
fn grid_latents(run: &Run, base: &[f32], view: &ViewSettings) -> (Vec<f32>, usize) {
    let n = view.grid_size.clamp(2, 32);
    let d = base.len();
    let (u, v) = match (view.grid_axes, &run.views.stats) {
        (GridAxes::Principal, Some(s)) if s.principal.len() == 2 && s.latent == d => {
            (s.principal[0].clone(), s.principal[1].clone())
        }
        _ => (
            explore::axis(d, view.grid_dims[0].min(d - 1)),
            explore::axis(d, view.grid_dims[1].min(d - 1)),
        ),
    };
    let vals = explore::axis_values(n, view.grid_spacing, view.grid_range);
    let mut base = base.to_vec();
    let pu: f32 = base.iter().zip(&u).map(|(a, b)| a * b).sum();
    let pv: f32 = base.iter().zip(&v).map(|(a, b)| a * b).sum();
    for j in 0..d {
        base[j] -= pu * u[j] + pv * v[j];
    }
    (explore::grid_latents(&base, &u, &v, &vals, &vals), n * n)
}
