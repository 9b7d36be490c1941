//! Decode requests: which views each run needs in the current layout, and the jobs that
//! keep them up to date with the shared latent cursor, the grid specification and the
//! same-input matrix; the slider image is decoded on the UI thread when that is fast.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::app::ExplorerApp;
use super::decoder::{self, Ask, Job, Output, ViewKey};
use super::run::Run;
use super::runs::WAITING_FOR_CODES;
use super::settings::{
    ANOMALY_IWAE_K, CompareTab, ExploreSettings, GRID_SIZE, GridAxes, Layout, MANIFOLD_SIZE,
    MATRIX_ROWS, MapAxes, PATH_STEPS, RECON_COUNT, STATS_DIGITS, TRAVERSAL_ROWS, TRAVERSAL_STEPS,
    ViewSettings, clamp_to,
};
use crate::explore::{self, prior_noise};

/// Longest a slider decode may take on the UI thread before decoding moves off it.
const INLINE_DECODE_BUDGET: Duration = Duration::from_millis(3);
/// Inline slider decodes over budget in a row after which the run decodes on its thread.
const INLINE_SLOW_LIMIT: u8 = 3;

/// Prior samples per run.
const PRIOR_SAMPLES: usize = 64;

impl ExplorerApp {
    /// The views a run needs now, given the layout (nothing that encodes data when the
    /// data does not have the model's image size; nothing for a run whose views are not
    /// shown).
    fn wanted_views(&self, run: &Run) -> BTreeSet<ViewKey> {
        if !self.runs.shows_views(run) {
            // Not shown (a sweep's run nobody asked to see): nothing is decoded.
            return BTreeSet::new();
        }
        let v = &self.persisted.view;
        let mut want = BTreeSet::from([ViewKey::Stats]);
        let run_id = run.id;
        match v.layout {
            Layout::Focus => {
                if self.runs.focused == Some(run_id) {
                    want.extend([ViewKey::Recon, ViewKey::Prior]);
                    // The lower half: the sliders and grid, or an exploring tab.
                    if v.compare_tab.is_exploring() {
                        want.extend(exploring_views(run, v));
                    } else {
                        want.extend([ViewKey::Slider, ViewKey::Grid]);
                    }
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
                _ => want.extend(exploring_views(run, v)),
            },
        }
        // The input is encoded whenever there is one: its code can drive every view.
        if self.runs.input.is_some() {
            want.insert(ViewKey::Input);
        }
        if !run.data_fits() {
            want.retain(|k| {
                matches!(
                    k,
                    ViewKey::Slider | ViewKey::Grid | ViewKey::Prior | ViewKey::Traversal
                )
            });
        }
        want
    }

    pub(super) fn request_views(&mut self) {
        let focused = self.runs.focused;
        let device = self.device.clone();
        let cursor = self.runs.cursor.clone();
        let view = self.persisted.view.clone();
        let input = self.runs.input.clone();
        let inline_ok = !self.gpu_buffers;
        for id in self.runs.ids() {
            let Some(want) = self.runs.get(id).map(|r| self.wanted_views(r)) else {
                continue;
            };
            let Some(run) = self.runs.get_mut(id) else {
                continue;
            };
            // Views no longer shown stop being refreshed; views shown again are asked for.
            let gone: Vec<ViewKey> = run.views.wanted.difference(&want).copied().collect();
            if !gone.is_empty() {
                run.decoder.forget(&gone);
            }
            let new: Vec<ViewKey> = want.difference(&run.views.wanted).copied().collect();
            for k in &new {
                let d = &mut run.views.dirty;
                match k {
                    ViewKey::Slider => d.latent = true,
                    ViewKey::Grid => d.grid = true,
                    ViewKey::Prior => d.prior = true,
                    ViewKey::Matrix => d.matrix = true,
                    ViewKey::Recon | ViewKey::Stats => d.recon = true,
                    ViewKey::Path => d.path = true,
                    ViewKey::Traversal => d.traversal = true,
                    // A report of the same settings is kept (it says when newer weights
                    // exist); scoring again takes seconds.
                    ViewKey::Anomaly => {
                        d.anomaly = run
                            .views
                            .anomaly
                            .as_ref()
                            .is_none_or(|a| a.report.query != anomaly_query(&view.explore))
                    }
                    ViewKey::Input => d.input = true,
                    ViewKey::Manifold => d.manifold = true,
                    ViewKey::Embedding => d.embedding = run.views.embedding.is_none(),
                }
                d.urgent = true;
            }
            run.views.wanted = want.clone();
            let d = run.latent_dim();
            let label = Some(cursor.label);
            let urgent = run.views.dirty.urgent;
            let kept = Ask { urgent, keep: true };
            // Views computed from the run's codes or principal directions are asked for
            // again when those arrive (each refresh of the statistics), so the decode thread
            // need not refresh them too.
            let slider_ask = Ask {
                urgent,
                keep: !cursor.follows_codes(),
            };
            let grid_ask = Ask {
                urgent,
                keep: !(cursor.follows_codes() || view.grid_axes == GridAxes::Principal),
            };
            if run.views.dirty.recon {
                if want.contains(&ViewKey::Recon) {
                    let n = clamp_to(view.recon_count, &RECON_COUNT);
                    ask(run, ViewKey::Recon, Job::Recon((0..n).collect()), kept);
                }
                if want.contains(&ViewKey::Stats) {
                    ask(run, ViewKey::Stats, Job::Stats(STATS_DIGITS), kept);
                }
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
                let rid = ask(run, ViewKey::Slider, job.clone(), slider_ask);
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
                ask(
                    run,
                    ViewKey::Grid,
                    Job::Decode { z: zs, n, label },
                    grid_ask,
                );
                run.views.dirty.grid = false;
            }
            if run.views.dirty.prior && want.contains(&ViewKey::Prior) {
                let z = prior_noise(cursor.prior_seed, PRIOR_SAMPLES, d);
                let job = Job::Decode {
                    z,
                    n: PRIOR_SAMPLES,
                    label,
                };
                ask(run, ViewKey::Prior, job, kept);
                run.views.dirty.prior = false;
            }
            if run.views.dirty.matrix && want.contains(&ViewKey::Matrix) {
                let first = view.matrix_first;
                let rows = clamp_to(view.matrix_rows, &MATRIX_ROWS);
                let job = Job::Matrix {
                    indices: (first..first + rows).collect(),
                    heat: view.heatmap,
                };
                ask(run, ViewKey::Matrix, job, kept);
                run.views.dirty.matrix = false;
            }
            let ex = &view.explore;
            if run.views.dirty.path
                && want.contains(&ViewKey::Path)
                && let Some(z) = path_latents(run, ex)
            {
                let n = z.len() / d.max(1);
                let ask_once = Ask {
                    urgent,
                    keep: false,
                };
                ask(run, ViewKey::Path, Job::Decode { z, n, label }, ask_once);
                run.views.dirty.path = false;
            }
            if run.views.dirty.traversal
                && want.contains(&ViewKey::Traversal)
                && let Ok(z) = &latent
            {
                let (zs, n) = traversal_latents(run, z, ex);
                // Ranges come from the codes: asked again when they are refreshed.
                let how = Ask {
                    urgent,
                    keep: run.views.stats.is_none() || !cursor.follows_codes(),
                };
                ask(
                    run,
                    ViewKey::Traversal,
                    Job::Decode { z: zs, n, label },
                    how,
                );
                run.views.dirty.traversal = false;
            }
            if run.views.dirty.manifold
                && want.contains(&ViewKey::Manifold)
                && let Some(s) = &run.views.stats
            {
                let k = clamp_to(ex.manifold_size, &MANIFOLD_SIZE);
                let dims = manifold_dims(ex);
                let [x0, x1, y0, y1] = manifold_extent(&s.codes, dims);
                let mut z = Vec::with_capacity(k * k * 2);
                let [a, b] = dims;
                // Cell centres, rows from the top (largest y) down.
                for r in 0..k {
                    let y = y1 - (y1 - y0) * (r as f32 + 0.5) / k as f32;
                    for c in 0..k {
                        let x = x0 + (x1 - x0) * (c as f32 + 0.5) / k as f32;
                        let mut v = [0.0f32; 2];
                        v[a] = x;
                        v[b] = y;
                        z.extend(v);
                    }
                }
                // Asked again when the codes (and so the extent) are refreshed.
                ask(
                    run,
                    ViewKey::Manifold,
                    Job::Decode { z, n: k * k, label },
                    Ask {
                        urgent,
                        keep: false,
                    },
                );
                run.views.dirty.manifold = false;
            }
            if run.views.dirty.embedding
                && want.contains(&ViewKey::Embedding)
                && let Some(s) = &run.views.stats
            {
                let job = Job::Embed {
                    codes: std::sync::Arc::new(s.codes.clone()),
                    dim: s.latent,
                    step: s.step,
                };
                ask(
                    run,
                    ViewKey::Embedding,
                    job,
                    Ask {
                        urgent,
                        keep: false,
                    },
                );
                run.views.dirty.embedding = false;
            }
            if run.views.dirty.anomaly && want.contains(&ViewKey::Anomaly) {
                let q = anomaly_query(ex);
                let job = Job::Anomaly {
                    shift: q.shift,
                    iwae_k: q.iwae_k,
                    seed: q.seed,
                    held_out: run.dataset.held_out_class,
                };
                ask(
                    run,
                    ViewKey::Anomaly,
                    job,
                    Ask {
                        urgent,
                        keep: false,
                    },
                );
                run.views.dirty.anomaly = false;
            }
            if run.views.dirty.input && want.contains(&ViewKey::Input) {
                if let Some(px) = &input {
                    let job = Job::Input {
                        pixels: px.clone(),
                        label: cursor.label,
                        seed: view.explore.anomaly_seed,
                    };
                    ask(run, ViewKey::Input, job, kept);
                }
                run.views.dirty.input = false;
            }
            // What stays dirty waits for codes or a model; when it goes out, it is a refresh.
            if !(run.views.dirty.latent || run.views.dirty.grid) {
                run.views.dirty.urgent = false;
            }
        }
    }
}

/// Ask `run`'s decoder for `job` and remember the request as the view's newest.
fn ask(run: &mut Run, key: ViewKey, job: Job, how: Ask) -> u64 {
    run.views.jobs.insert(key, job.clone());
    let id = run.decoder.request(key, job, how);
    run.views.requested.insert(key, id);
    id
}

/// On the CPU, decode the slider's single image on the UI thread when that is fast (it
/// usually takes ~0.1 ms), so the image changes in the same frame as the drag.
/// [`INLINE_SLOW_LIMIT`] decodes in a row slower than [`INLINE_DECODE_BUDGET`] turn this
/// off for the run; its decode thread then
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
        run.views.inline_slow += 1;
        if run.views.inline_slow >= INLINE_SLOW_LIMIT {
            run.views.inline_decode = false;
        }
    } else {
        run.views.inline_slow = 0;
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
    let n = clamp_to(view.grid_size, &GRID_SIZE);
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

/// The path's latent vectors for `run`: its codes of the two chosen test digits, joined by
/// the chosen interpolation. `None` until the codes are there.
fn path_latents(run: &Run, ex: &ExploreSettings) -> Option<Vec<f32>> {
    let s = run.views.stats.as_ref()?;
    let d = s.latent;
    let code = |i: usize| s.codes.get(i * d..(i + 1) * d);
    let (a, b) = (code(ex.path_from)?, code(ex.path_to)?);
    Some(explore::path(
        a,
        b,
        clamp_to(ex.path_steps, &PATH_STEPS),
        ex.path_kind,
    ))
}

/// Every latent dimension of `run`, the most informative first: the library's one order
/// ([`explore::DimensionStats::order`], as `traverse` prints its rows) once the run's
/// statistics are there, else by index. The sliders and the traversal rows follow it.
pub fn dimension_order(run: &Run) -> Vec<usize> {
    let d = run.latent_dim();
    match &run.views.stats {
        Some(s) if s.latent == d && s.dims.dim() == d => s.dims.order(),
        _ => (0..d).collect(),
    }
}

/// The dimensions a traversal shows for `run`: the first `rows` of [`dimension_order`].
pub fn traversal_dims(run: &Run, rows: usize) -> Vec<usize> {
    dimension_order(run)
        .into_iter()
        .take(clamp_to(rows, &TRAVERSAL_ROWS))
        .collect()
}

/// The anomaly scores the settings ask for.
fn anomaly_query(ex: &ExploreSettings) -> explore::AnomalyQuery {
    explore::AnomalyQuery {
        shift: ex.shift,
        iwae_k: clamp_to(ex.anomaly_iwae_k, &ANOMALY_IWAE_K),
        seed: ex.anomaly_seed,
    }
}

/// The traversal's latent vectors around `base`: rows are [`traversal_dims`], columns
/// the range's values.
fn traversal_latents(run: &Run, base: &[f32], ex: &ExploreSettings) -> (Vec<f32>, usize) {
    let d = base.len();
    let dims = traversal_dims(run, ex.traversal_rows);
    let codes = match &run.views.stats {
        Some(s) if s.latent == d => s.codes.as_slice(),
        _ => &[],
    };
    // A range from a settings file is checked here too (a quantile of 0 would be ±∞).
    let mode = match ex.traversal_range.validate() {
        Ok(()) => ex.traversal_range,
        Err(_) => explore::RangeMode::default(),
    };
    let ranges = explore::dim_ranges(codes, d, mode);
    let steps = clamp_to(ex.traversal_steps, &TRAVERSAL_STEPS);
    (
        explore::traversal_grid(base, &dims, &ranges, steps),
        dims.len() * steps,
    )
}

/// Whether `run`'s map shows the decoded manifold underneath: a 2-d latent (its map then
/// plots its two dimensions, whatever the axes setting).
pub fn manifold_shown(run: &Run, ex: &ExploreSettings) -> bool {
    ex.manifold && run.latent_dim() == 2
}

/// The two dimensions a 2-d latent's manifold spans: the map's, or (0, 1) when those name
/// one dimension twice.
pub fn manifold_dims(ex: &ExploreSettings) -> [usize; 2] {
    let (a, b) = (ex.map_dims[0].min(1), ex.map_dims[1].min(1));
    if a == b { [0, 1] } else { [a, b] }
}

/// The latent rectangle `[x0, x1, y0, y1]` the manifold covers: the codes' extent on the
/// map's two dimensions, widened by 5% each side.
pub fn manifold_extent(codes: &[f32], dims: [usize; 2]) -> [f32; 4] {
    let (a, b) = (dims[0].min(1), dims[1].min(1));
    let mut e = [f32::MAX, f32::MIN, f32::MAX, f32::MIN];
    for c in codes
        .chunks_exact(2)
        .filter(|c| c[0].is_finite() && c[1].is_finite())
    {
        e[0] = e[0].min(c[a]);
        e[1] = e[1].max(c[a]);
        e[2] = e[2].min(c[b]);
        e[3] = e[3].max(c[b]);
    }
    if e[0] > e[1] || e[2] > e[3] {
        return [-3.0, 3.0, -3.0, 3.0];
    }
    let (mx, my) = (
        0.05 * (e[1] - e[0]).max(1e-3),
        0.05 * (e[3] - e[2]).max(1e-3),
    );
    [e[0] - mx, e[1] + mx, e[2] - my, e[3] + my]
}

/// The views an exploring tab needs from `run`.
fn exploring_views(run: &Run, v: &ViewSettings) -> Vec<ViewKey> {
    match v.compare_tab {
        CompareTab::Map if manifold_shown(run, &v.explore) => vec![ViewKey::Manifold],
        CompareTab::Map if v.explore.map_axes == MapAxes::Tsne => vec![ViewKey::Embedding],
        CompareTab::Paths => vec![ViewKey::Path],
        CompareTab::Traversals => vec![ViewKey::Traversal],
        CompareTab::Anomalies => vec![ViewKey::Anomaly],
        CompareTab::Input => vec![ViewKey::Slider],
        _ => Vec::new(),
    }
}
