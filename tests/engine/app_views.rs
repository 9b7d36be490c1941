//! The app's views against computations made here, with two different runs open: each
//! run's codes and per-dimension KL against an encoding of the same test digits done in the
//! test (the checkpoint loaded with the library, KL in closed form in f64); the latent map's
//! points and a click on it against the test's own projection; the grid, the prior samples
//! and the same-input matrix (and its heat map) against decoding each run's own latents with
//! the library; the metrics table's Δ against the two checkpoints' own figures; a rename and
//! a recolour touching one run only; the preset starting its four variants beside open runs;
//! and the epoch scrubber thinning a long run's epochs while a short run keeps its own.
//!
//! The views are compared through the data the painter gets (host pixels on the CPU
//! backend) and the accessibility tree's texts, not screenshots.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::{Tensor, TensorData};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{Queryable, by};
use latent_explorer::checkpoint::{self, DatasetInfo};
use latent_explorer::explore::{Spacing, prior_noise};
use latent_explorer::gpu::TileSource;
use latent_explorer::model::Vae;
use latent_explorer::train::{EvalMetrics, RunSpec, Trainer, WorkerState};
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::holes::{HOLES_NEIGHBOURS, HOLES_SAMPLES};
use latent_explorer::ui::panels::map::{MapGeometry, geometry_id};
use latent_explorer::ui::run::{MAX_KEPT_EPOCHS, Run, RunId, RunSource};
use latent_explorer::ui::settings::{CompareTab, GridAxes, Layout, MapAxes};
use latent_explorer::ui::{ExplorerApp, RunAction, UiCommand};
use latent_explorer::variant::VariantKind;

use crate::app::{harness, nth_run, options, quiesce, run_until};
use crate::common::{cpu, max_abs_diff, param_values, small, vec_of};
use crate::help::redraw;

/// Test digits the app encodes for its statistics here: the whole test split of
/// `options(…)`'s data (300 < `STATS_DIGITS`).
const TEST_DIGITS: usize = 300;

/// Train `epochs` epochs of `variant` from `seed` headless on 2000 digits and save the
/// checkpoint (with its test figures) as `dir/name.safetensors`.
fn train_to(dir: &Path, name: &str, variant: VariantKind, seed: u64, epochs: usize) -> PathBuf {
    let data = small(2000, TEST_DIGITS);
    let cfg = RunSpec {
        batch: 64,
        epochs,
        seed,
        variant,
        ..RunSpec::default()
    }
    .train_config(&data);
    let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    while t.epoch() < epochs {
        t.step().unwrap();
    }
    let path = dir.join(format!("{name}.safetensors"));
    let snap = t.snapshot();
    checkpoint::save_snapshot(&path, &snap, DatasetInfo::of(&data), Some(t.evaluate(0))).unwrap();
    path
}

/// The run names of [`pair`]'s checkpoints (their file stems).
const NAMES: [&str; 2] = ["alpha", "beta"];

/// Two different checkpoints, trained once per test binary: "alpha" (VAE, seed 1) and
/// "beta" (β-VAE, seed 2), 2 epochs each.
fn pair() -> [PathBuf; 2] {
    static PATHS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    PATHS
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("app_views");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::thread::scope(|s| {
                let a = s.spawn(|| train_to(&dir, NAMES[0], VariantKind::Vae, 1, 2));
                let b = train_to(&dir, NAMES[1], VariantKind::BetaVae, 2, 2);
                [a.join().unwrap(), b]
            })
        })
        .clone()
}

/// A model's view of the test digits, computed here: the checkpoint loaded with the library
/// and the digits encoded in one batch, without the app's decode thread or `explore`.
struct Reference {
    model: Vae,
    /// Posterior means, `n × d`.
    mu: Vec<f32>,
    /// Posterior log-variances, `n × d`.
    logvar: Vec<f32>,
    d: usize,
    n: usize,
}

/// The first `n` test digits of the app's data, `n × pixels`.
fn test_pixels(n: usize) -> (Vec<f32>, usize) {
    let data = small(2000, TEST_DIGITS);
    let p = data.test.image_len();
    let px: Vec<f32> = (0..n)
        .flat_map(|i| data.test.image(i).into_owned())
        .collect();
    (px, p)
}

fn tensor(v: Vec<f32>, rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), &cpu())
}

impl Reference {
    fn of_model(model: Vae) -> Self {
        let (px, p) = test_pixels(TEST_DIGITS);
        let (mu, logvar) = model.encode(tensor(px, TEST_DIGITS, p));
        let d = mu.dims()[1];
        Self {
            model,
            mu: vec_of(mu),
            logvar: vec_of(logvar),
            d,
            n: TEST_DIGITS,
        }
    }

    fn load(path: &Path) -> Self {
        Self::of_model(checkpoint::load(path, &cpu()).unwrap().model)
    }

    fn code(&self, i: usize) -> &[f32] {
        &self.mu[i * self.d..(i + 1) * self.d]
    }

    /// Mean over the digits of KL(N(μ, σ²) ‖ N(0, 1)) per dimension, in closed form in f64:
    /// ½ (μ² + σ² − 1 − ln σ²).
    fn kl_per_dim(&self) -> Vec<f64> {
        let mut kl = vec![0.0f64; self.d];
        for (m, lv) in self.mu.chunks(self.d).zip(self.logvar.chunks(self.d)) {
            for j in 0..self.d {
                let (m, s2) = (m[j] as f64, (lv[j] as f64).exp());
                kl[j] += 0.5 * (m * m + s2 - 1.0 - s2.ln());
            }
        }
        kl.iter().map(|k| k / self.n as f64).collect()
    }

    /// The population variance of each dimension's codes.
    fn code_variance(&self) -> Vec<f64> {
        (0..self.d)
            .map(|j| {
                let v: Vec<f64> = self.mu.chunks(self.d).map(|c| c[j] as f64).collect();
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64
            })
            .collect()
    }

    /// Decoded means of `n` latent vectors.
    fn decode(&self, z: &[f32]) -> Vec<f32> {
        let n = z.len() / self.d;
        vec_of(self.model.decode_mean(tensor(z.to_vec(), n, self.d)))
    }

    /// The digits `indices` and their mean reconstructions (the posterior mean decoded).
    fn reconstruct(&self, indices: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let (all, p) = test_pixels(TEST_DIGITS);
        let x: Vec<f32> = indices
            .iter()
            .flat_map(|&i| all[i * p..(i + 1) * p].to_vec())
            .collect();
        let (mu, _) = self.model.encode(tensor(x.clone(), indices.len(), p));
        (x, vec_of(self.model.decode_mean(mu)))
    }
}

/// The app with both checkpoints of [`pair`] open on `tab`, each run's codes computed;
/// the runs' ids in [`NAMES`]' order (they load in the background, in either order).
fn two_runs(tab: CompareTab) -> (Harness<'static, ExplorerApp>, [RunId; 2]) {
    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = pair().to_vec();
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = tab;
    }
    let mut h = harness(opts);
    run_until(&mut h, 120, "both checkpoints' codes", |a| {
        a.runs.len() == 2 && a.runs.iter().all(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    let ids = NAMES.map(|name| {
        h.state()
            .runs
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no run named {name}"))
            .id
    });
    (h, ids)
}

fn run(app: &ExplorerApp, id: RunId) -> &Run {
    app.runs.get(id).expect("the run is open")
}

/// The host pixels of a run's view (the CPU backend hands the painter floats).
fn host_pixels(run: &Run, key: ViewKey) -> Vec<f32> {
    match run.image(key).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        Some(_) => panic!("{}: {key:?} is not on the host", run.name),
        None => panic!("{}: no {key:?} image", run.name),
    }
}

/// Wait until every run's `key` image answers its newest request, then until the views
/// settle.
fn await_images(h: &mut Harness<'_, ExplorerApp>, key: ViewKey) {
    run_until(h, 120, "the newest images", |a| {
        a.runs.iter().all(|r| {
            r.image(key).map(|i| i.request) == r.views.requested.get(&key).copied()
                && r.image(key).is_some()
        })
    });
    quiesce(h);
}

/// Whether `x` formatted with `decimals` could round either way (within `eps` of a tie).
fn near_tie(x: f64, decimals: i32, eps: f64) -> bool {
    let scaled = x.abs() * 10f64.powi(decimals);
    (scaled - scaled.floor() - 0.5).abs() < eps
}

#[test]
fn each_runs_codes_and_kl_match_an_independent_encoding_of_the_same_digits() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    let refs = pair().map(|p| Reference::load(&p));
    for (k, &id) in ids.iter().enumerate() {
        let r = &refs[k];
        let run = run(h.state(), id);
        let s = run.views.stats.as_ref().unwrap();
        assert_eq!(
            (s.latent, s.codes.len(), s.dims.images),
            (r.d, r.mu.len(), r.n),
            "{}: the codes cover other digits or dimensions",
            run.name
        );
        // Batches of another size round differently in the last bits: 1e-4 on codes of
        // order 1.
        let worst = max_abs_diff(&s.codes, &r.mu);
        assert!(
            worst <= 1e-4,
            "{}: a code differs from the test's encoding of the same digit by {worst}",
            run.name
        );
        let kl = r.kl_per_dim();
        assert_eq!(s.dims.kl_per_dim.len(), r.d);
        for (j, (&app, &want)) in s.dims.kl_per_dim.iter().zip(&kl).enumerate() {
            assert!(
                (app - want).abs() <= 1e-4 * want.abs() + 1e-6,
                "{}: KL of z{j} is {app}, the closed form over the test's encoding gives {want}",
                run.name
            );
        }
        assert!(
            kl.iter().sum::<f64>() > 0.5,
            "{}: the model encodes nothing (KL {kl:?}): the comparison proves little",
            run.name
        );
    }
    let codes = |id| {
        run(h.state(), id)
            .views
            .stats
            .as_ref()
            .unwrap()
            .codes
            .clone()
    };
    assert!(
        max_abs_diff(&codes(ids[0]), &codes(ids[1])) > 0.1,
        "two different models gave the same codes"
    );

    // The sliders show the focused run's KL beside its most informative dimensions (the
    // focused run is the first opened; the other is focused next).
    let first = h.state().runs.focused.unwrap();
    let order = [first, ids[if first == ids[0] { 1 } else { 0 }]];
    for id in order {
        h.state_mut()
            .push_command(UiCommand::Run(id, RunAction::Focus));
        redraw(&mut h);
        let k = ids.iter().position(|&i| i == id).unwrap();
        let (kl, var) = (refs[k].kl_per_dim(), refs[k].code_variance());
        let top = latent_explorer::explore::order_by_desc(&kl);
        for &j in top.iter().take(5) {
            if near_tie(kl[j], 2, 1e-3) {
                continue;
            }
            let inactive = if var[j] > 0.01 { "" } else { " · inactive" };
            let text = format!("KL {:.2}{inactive}", kl[j]);
            assert!(
                h.query_all_by_label(&text).next().is_some(),
                "{} focused: no slider label {text:?} for z{j}",
                NAMES[k]
            );
        }
    }
}

fn geometry(h: &Harness<'_, ExplorerApp>, id: RunId) -> MapGeometry {
    h.ctx
        .data(|m| m.get_temp::<MapGeometry>(geometry_id(id)))
        .expect("the map was drawn")
}

/// The top two eigenvectors of the symmetric `d × d` matrix `a` (row-major), by cyclic
/// Jacobi rotations in f64.
fn top_two_eigenvectors(mut a: Vec<f64>, d: usize) -> [Vec<f64>; 2] {
    let mut v = vec![0.0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        if off < 1e-24 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut idx: Vec<usize> = (0..d).collect();
    idx.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]));
    let col = |c: usize| (0..d).map(|k| v[k * d + c]).collect::<Vec<f64>>();
    [col(idx[0]), col(idx[1])]
}

/// Each code projected on the top two principal directions of the codes (the sample
/// covariance's eigenvectors), computed here; each axis has a sign of its own.
fn principal_projection(r: &Reference) -> Vec<[f64; 2]> {
    let d = r.d;
    let mean: Vec<f64> = (0..d)
        .map(|j| r.mu.chunks(d).map(|c| c[j] as f64).sum::<f64>() / r.n as f64)
        .collect();
    let mut cov = vec![0.0f64; d * d];
    for c in r.mu.chunks(d) {
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] += (c[a] as f64 - mean[a]) * (c[b] as f64 - mean[b]);
            }
        }
    }
    cov.iter_mut().for_each(|x| *x /= (r.n - 1) as f64);
    let [u, v] = top_two_eigenvectors(cov, d);
    r.mu.chunks(d)
        .map(|c| {
            let dot = |w: &[f64]| c.iter().zip(w).map(|(&a, b)| a as f64 * b).sum::<f64>();
            [dot(&u), dot(&v)]
        })
        .collect()
}

/// The largest |a − b| over points, each axis of `b` flipped to agree with `a` in sign.
fn worst_up_to_sign(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    let mut worst = 0.0f64;
    for axis in 0..2 {
        let dot: f64 = a.iter().zip(b).map(|(p, q)| p[axis] * q[axis]).sum();
        let s = if dot < 0.0 { -1.0 } else { 1.0 };
        for (p, q) in a.iter().zip(b) {
            worst = worst.max((p[axis] - s * q[axis]).abs());
        }
    }
    worst
}

#[test]
fn a_map_click_picks_the_digit_nearest_in_an_independent_projection() {
    let (mut h, ids) = two_runs(CompareTab::Map);
    let refs = pair().map(|p| Reference::load(&p));
    // Principal directions (the default): each run's map places each digit where the test's
    // own principal projection of that digit's code is.
    for (k, &id) in ids.iter().enumerate() {
        let g = geometry(&h, id);
        let want = principal_projection(&refs[k]);
        assert_eq!(
            g.points.len(),
            want.len(),
            "{}: digits on the map",
            NAMES[k]
        );
        let spread = want
            .iter()
            .map(|p| p[0].abs().max(p[1].abs()))
            .fold(0.0, f64::max);
        let worst = worst_up_to_sign(&g.points, &want);
        assert!(
            worst <= 1e-3 * spread,
            "{}: a digit is {worst} away from its code's principal projection (spread {spread})",
            NAMES[k]
        );
    }

    // Two dimensions: beta's two most informative (by the test's KL).
    let kl = refs[1].kl_per_dim();
    let top = latent_explorer::explore::order_by_desc(&kl);
    let (a, b) = (top[0], top[1]);
    {
        let ex = &mut h.state_mut().persisted.view.explore;
        ex.map_axes = MapAxes::Dims;
        ex.map_dims = [a, b];
    }
    redraw(&mut h);
    for (k, &id) in ids.iter().enumerate() {
        let g = geometry(&h, id);
        for (i, p) in g.points.iter().enumerate() {
            let c = refs[k].code(i);
            let want = [c[a] as f64, c[b] as f64];
            assert!(
                (p[0] - want[0]).abs() <= 1e-4 && (p[1] - want[1]).abs() <= 1e-4,
                "{}: digit #{i} is plotted at {p:?}, its code's (z{a}, z{b}) is {want:?}",
                NAMES[k]
            );
        }
    }
    // Click on beta's map where the test places a digit with no other within 4 points, well
    // inside the plot.
    let g = geometry(&h, ids[1]);
    let pos: Vec<egui::Pos2> = (0..refs[1].n)
        .map(|i| {
            let c = refs[1].code(i);
            g.transform
                .position_from_point(&egui_plot::PlotPoint::new(c[a] as f64, c[b] as f64))
        })
        .collect();
    let frame = g.transform.frame().shrink(20.0);
    let target = (0..pos.len())
        .filter(|&i| frame.contains(pos[i]) && i != h.state().runs.cursor.digit)
        .find(|&i| {
            pos.iter()
                .enumerate()
                .all(|(j, p)| j == i || p.distance(pos[i]) > 4.0)
        })
        .expect("an isolated digit on the map");
    h.hover_at(pos[target]);
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: pos[target],
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.step();
    let app = h.state();
    assert!(app.runs.cursor.follow_digit);
    assert_eq!(
        app.runs.cursor.digit, target,
        "the click picked another digit than the one the test placed there"
    );
    // Every run now shows its own code of that digit.
    for (k, &id) in ids.iter().enumerate() {
        let z = app.runs.cursor.latent_for(run(app, id)).unwrap();
        let worst = max_abs_diff(&z, refs[k].code(target));
        assert!(
            worst <= 1e-4,
            "{}: the cursor is {worst} from its code of digit #{target}",
            NAMES[k]
        );
    }
}

#[test]
fn each_runs_grid_decodes_its_own_code_of_the_digit_along_two_dimensions() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    let refs = pair().map(|p| Reference::load(&p));
    let (n, range, dims) = (5usize, 2.0f32, [3usize, 1usize]);
    {
        let v = &mut h.state_mut().persisted.view;
        v.grid_axes = GridAxes::Dims;
        v.grid_dims = dims;
        v.grid_size = n;
        v.grid_spacing = Spacing::Linear;
        v.grid_range = range;
    }
    h.state_mut().push_command(UiCommand::EncodeDigit(4));
    await_images(&mut h, ViewKey::Grid);
    let mut grids = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        let r = &refs[k];
        // Rows top to bottom take the y values from +range down; columns x from −range up;
        // the other dimensions are the run's own code of digit 4.
        let vals: Vec<f32> = (0..n)
            .map(|i| -range + 2.0 * range * i as f32 / (n - 1) as f32)
            .collect();
        let mut z = Vec::new();
        for row in 0..n {
            for col in 0..n {
                let mut c = r.code(4).to_vec();
                c[dims[0]] = vals[col];
                c[dims[1]] = vals[n - 1 - row];
                z.extend(c);
            }
        }
        let want = r.decode(&z);
        let img = run(h.state(), id).image(ViewKey::Grid).unwrap();
        assert_eq!(img.n, n * n, "{}: tiles in the grid", NAMES[k]);
        let got = host_pixels(run(h.state(), id), ViewKey::Grid);
        let worst = max_abs_diff(&got, &want);
        assert!(
            worst <= 1e-4,
            "{}: the grid is {worst} from decoding its own latents with the library",
            NAMES[k]
        );
        grids.push(got);
    }
    assert!(
        max_abs_diff(&grids[0], &grids[1]) > 0.1,
        "two different models drew the same grid"
    );
}

#[test]
fn each_runs_prior_samples_decode_the_shared_noise_with_its_own_weights() {
    let (mut h, ids) = two_runs(CompareTab::Prior);
    let refs = pair().map(|p| Reference::load(&p));
    await_images(&mut h, ViewKey::Prior);
    let mut before = Vec::new();
    for round in 0..2 {
        let seed = h.state().runs.cursor.prior_seed;
        let mut shown = Vec::new();
        for (k, &id) in ids.iter().enumerate() {
            let r = &refs[k];
            let want = r.decode(&prior_noise(seed, 64, r.d));
            let got = host_pixels(run(h.state(), id), ViewKey::Prior);
            let worst = max_abs_diff(&got, &want);
            assert!(
                worst <= 1e-4,
                "{} (seed {seed}): the samples are {worst} from decoding the seed's noise",
                NAMES[k]
            );
            shown.push(got);
        }
        assert!(
            max_abs_diff(&shown[0], &shown[1]) > 0.1,
            "two different models drew the same samples"
        );
        if round == 0 {
            before = shown;
            h.get_by_label("Resample").click();
            redraw(&mut h);
            assert_eq!(h.state().runs.cursor.prior_seed, seed + 1);
            await_images(&mut h, ViewKey::Prior);
        } else {
            for k in 0..2 {
                assert!(
                    max_abs_diff(&before[k], &shown[k]) > 0.1,
                    "{}: resampling changed nothing",
                    NAMES[k]
                );
            }
        }
    }
}

#[test]
fn the_same_input_matrix_and_its_heat_map_hold_each_runs_reconstructions() {
    let (mut h, ids) = two_runs(CompareTab::SameInput);
    let refs = pair().map(|p| Reference::load(&p));
    let (first, rows) = (3usize, 4usize);
    {
        let v = &mut h.state_mut().persisted.view;
        v.matrix_first = first;
        v.matrix_rows = rows;
    }
    await_images(&mut h, ViewKey::Matrix);
    let indices: Vec<usize> = (first..first + rows).collect();
    for heat in [false, true] {
        let mut columns = Vec::new();
        for (k, &id) in ids.iter().enumerate() {
            let (x, recon) = refs[k].reconstruct(&indices);
            let want: Vec<f32> = if heat {
                x.iter().zip(&recon).map(|(a, b)| (a - b).abs()).collect()
            } else {
                recon
            };
            let img = run(h.state(), id).image(ViewKey::Matrix).unwrap();
            assert_eq!(img.n, rows, "{}: tiles in the column", NAMES[k]);
            let got = host_pixels(run(h.state(), id), ViewKey::Matrix);
            let worst = max_abs_diff(&got, &want);
            assert!(
                worst <= 1e-4,
                "{} (heat map {heat}): digits #{first}…#{} are {worst} from their reconstructions",
                NAMES[k],
                first + rows - 1
            );
            columns.push(got);
        }
        assert!(
            max_abs_diff(&columns[0], &columns[1]) > 0.05,
            "two different models reconstructed alike (heat map {heat})"
        );
        if !heat {
            h.get_by_label("error heat map |input − reconstruction|")
                .click();
            redraw(&mut h);
            assert!(h.state().persisted.view.heatmap);
            await_images(&mut h, ViewKey::Matrix);
        }
    }
}

/// The table's columns checked: name, decimals, value.
fn figures(m: &EvalMetrics) -> [(&'static str, usize, f64); 4] {
    [
        ("test −ELBO", 2, m.neg_elbo),
        ("rec", 2, m.rec),
        ("KL", 2, m.kl),
        ("active units", 0, m.active_units as f64),
    ]
}

/// Every Δ the metrics table shows: the texts "(+1.23)" / "(-0.50)" (a label's text is
/// its accesskit value).
fn deltas(h: &Harness<'_, ExplorerApp>) -> Vec<String> {
    let is_delta = |l: &str| {
        (l.starts_with("(+") || l.starts_with("(-"))
            && l.ends_with(')')
            && l[1..l.len() - 1].parse::<f64>().is_ok()
    };
    let mut out: Vec<String> = h
        .query_all(by().role(Role::Label))
        .filter_map(|n| n.value())
        .filter(|l| is_delta(l))
        .collect();
    out.sort();
    out
}

#[test]
fn metrics_deltas_are_each_runs_own_figures_minus_the_baselines() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    let metrics = pair().map(|p| checkpoint::load(&p, &cpu()).unwrap().meta.metrics.unwrap());
    redraw(&mut h);
    // Each run's figures are its file's.
    for (k, m) in metrics.iter().enumerate() {
        for (name, dec, v) in figures(m) {
            let text = format!("{v:.dec$}");
            assert!(
                h.query_all_by_label(&text).next().is_some(),
                "{}: no {name} cell {text:?}",
                NAMES[k]
            );
        }
    }
    let first = h.state().runs.baseline.expect("a baseline");
    let kb = ids.iter().position(|&i| i == first).unwrap();
    for base in [kb, 1 - kb] {
        let other = 1 - base;
        if h.state().runs.baseline != Some(ids[base]) {
            // Choosing the baseline in the table.
            h.get_by_role_and_label(Role::RadioButton, NAMES[base])
                .click_accesskit();
            redraw(&mut h);
            assert_eq!(h.state().runs.baseline, Some(ids[base]));
        }
        // Only the other run has Δs: its figure minus the baseline's, one per column.
        let mut want: Vec<String> = figures(&metrics[other])
            .iter()
            .zip(figures(&metrics[base]))
            .map(|(&(_, dec, v), (_, _, b))| format!("({:+.dec$})", v - b))
            .collect();
        want.sort();
        assert_eq!(
            deltas(&h),
            want,
            "Δ against {} ({} − {}: −ELBO {:.3} − {:.3}, rec {:.3} − {:.3}, KL {:.3} − {:.3})",
            NAMES[base],
            NAMES[other],
            NAMES[base],
            metrics[other].neg_elbo,
            metrics[base].neg_elbo,
            metrics[other].rec,
            metrics[base].rec,
            metrics[other].kl,
            metrics[base].kl
        );
    }
}

/// How many 10 × 10 squares of `colour` the last frame filled (each run label's swatch).
fn swatches(h: &Harness<'_, ExplorerApp>, colour: egui::Color32) -> usize {
    fn visit(shape: &egui::Shape, colour: egui::Color32, n: &mut usize) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| visit(s, colour, n)),
            egui::Shape::Rect(r)
                if r.fill == colour && (r.rect.size() - egui::vec2(10.0, 10.0)).length() < 0.01 =>
            {
                *n += 1
            }
            _ => {}
        }
    }
    let mut n = 0;
    for c in &h.output().shapes {
        visit(&c.shape, colour, &mut n);
    }
    n
}

#[test]
fn renaming_or_recolouring_a_run_changes_that_run_only() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    redraw(&mut h);
    let colours = ids.map(|id| run(h.state(), id).colour);
    assert_ne!(colours[0], colours[1]);
    let swatches_before = colours.map(|c| swatches(&h, c));
    let labels = |h: &Harness<'_, ExplorerApp>, name: &str| h.query_all_by_label(name).count();
    let names_before = NAMES.map(|n| labels(&h, n));
    assert!(
        swatches_before.iter().all(|&n| n >= 2) && names_before.iter().all(|&n| n >= 2),
        "each run is named in several views: swatches {swatches_before:?}, labels {names_before:?}"
    );

    // Rename alpha in its name field.
    h.query_all(by().role(Role::TextInput).label("name"))
        .find(|n| n.value().as_deref() == Some(NAMES[0]))
        .expect("alpha's name field")
        .focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.event(egui::Event::Text("gamma".into()));
    redraw(&mut h);
    assert_eq!(run(h.state(), ids[0]).name, "gamma");
    assert_eq!(
        run(h.state(), ids[1]).name,
        NAMES[1],
        "the other run was renamed"
    );
    assert_eq!(
        labels(&h, "gamma"),
        names_before[0],
        "views naming the renamed run"
    );
    assert_eq!(labels(&h, NAMES[0]), 0, "the old name is still shown");
    assert_eq!(labels(&h, NAMES[1]), names_before[1]);

    // Recolour it.
    let new = egui::Color32::from_rgb(12, 34, 56);
    h.state_mut()
        .push_command(UiCommand::Run(ids[0], RunAction::Recolour(new)));
    redraw(&mut h);
    assert_eq!(run(h.state(), ids[0]).colour, new);
    assert_eq!(
        run(h.state(), ids[1]).colour,
        colours[1],
        "the other run changed colour"
    );
    assert_eq!(swatches(&h, new), swatches_before[0]);
    assert_eq!(swatches(&h, colours[0]), 0, "the old colour is still drawn");
    assert_eq!(
        swatches(&h, colours[1]),
        swatches_before[1],
        "the other run's swatches"
    );
}

#[test]
fn the_preset_starts_its_four_variants_beside_the_open_runs_each_with_its_own_views() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    let open_codes = ids.map(|id| {
        run(h.state(), id)
            .views
            .stats
            .as_ref()
            .unwrap()
            .codes
            .clone()
    });
    {
        let spec = &mut h.state_mut().persisted.draft.spec;
        spec.seed = 11;
        spec.epochs = 3;
    }
    h.get_by_label("Preset: 4 variants").click();
    run_until(&mut h, 120, "the preset's runs training", |a| {
        a.runs.len() == 6 && a.runs.iter().skip(2).all(|r| r.status.step >= 3)
    });
    let new: Vec<RunId> = h.state().runs.ids()[2..].to_vec();
    for &id in &new {
        h.state_mut().push_command(UiCommand::Run(
            id,
            RunAction::Worker(latent_explorer::train::Command::Pause),
        ));
    }
    run_until(&mut h, 60, "the preset paused with its codes", |a| {
        new.iter().all(|&id| {
            let r = run(a, id);
            r.status.state == WorkerState::Paused
                && r.views
                    .stats
                    .as_ref()
                    .zip(r.latest())
                    .is_some_and(|(s, l)| s.step == l.step)
        })
    });
    quiesce(&mut h);
    let app = h.state();
    let data = small(1000, TEST_DIGITS);
    let variants = [
        VariantKind::Vae,
        VariantKind::BetaVae,
        VariantKind::Iwae,
        VariantKind::WaeMmd,
    ];
    let mut codes = Vec::new();
    for (&id, v) in new.iter().zip(variants) {
        let r = run(app, id);
        let want = RunSpec {
            variant: v,
            seed: 11,
            epochs: 3,
            beta: None,
            ..app.persisted.draft.spec.clone()
        }
        .train_config(&data);
        assert_eq!(r.config.variant, v);
        assert_eq!(
            (r.config.seed, r.config.epochs, r.config.beta),
            (want.seed, want.epochs, want.beta),
            "{v:?}: seed, epochs and β"
        );
        assert!(matches!(r.source, RunSource::Training(_)));
        // Its codes: its own weights' encoding of the digits, done here.
        let snap = r.latest().unwrap();
        let reference = Reference::of_model(snap.model.clone());
        let s = r.views.stats.as_ref().unwrap();
        let worst = max_abs_diff(&s.codes, &reference.mu);
        assert!(
            worst <= 1e-4,
            "{v:?}: codes {worst} from its weights' encoding"
        );
        codes.push(s.codes.clone());
    }
    for i in 0..4 {
        for j in i + 1..4 {
            assert!(
                max_abs_diff(&codes[i], &codes[j]) > 1e-3,
                "{:?} and {:?} show the same codes",
                variants[i],
                variants[j]
            );
        }
    }
    // The open runs are as they were.
    for (k, &id) in ids.iter().enumerate() {
        let r = run(app, id);
        assert_eq!(r.name, NAMES[k]);
        assert!(matches!(r.source, RunSource::Loaded { .. }));
        assert_eq!(r.views.stats.as_ref().unwrap().codes, open_codes[k]);
    }
}

#[test]
fn the_scrubber_thins_a_long_runs_epochs_and_keeps_each_runs_own() {
    // 64 training digits, batch 64: one step an epoch. A runs 30 epochs, B 5.
    let long = 30;
    let mut h = harness(options(64, 64, long));
    run_until(&mut h, 60, "the first run", |a| a.runs.len() == 1);
    h.state_mut().persisted.draft.spec.epochs = 5;
    h.state_mut().persisted.draft.spec.seed = 7;
    h.state_mut().push_command(UiCommand::NewRun);
    run_until(&mut h, 300, "both runs finished", |a| {
        a.runs.len() == 2
            && a.runs
                .iter()
                .all(|r| r.status.state == WorkerState::Finished)
    });
    let (a, b) = (nth_run(h.state(), 0).id, nth_run(h.state(), 1).id);
    let kept = |h: &Harness<'_, ExplorerApp>, id| run(h.state(), id).epochs.epochs();
    let (ka, kb) = (kept(&h, a), kept(&h, b));
    assert!(
        ka.len() <= MAX_KEPT_EPOCHS && ka.len() >= MAX_KEPT_EPOCHS / 2,
        "{} of {long} epochs kept: {ka:?}",
        ka.len()
    );
    assert_eq!((ka.first(), ka.last()), (Some(&1), Some(&long)), "{ka:?}");
    assert_eq!(run(h.state(), a).epochs.thinned(), long - ka.len());
    assert_eq!(kb, vec![1, 2, 3, 4, 5], "the short run's epochs");
    assert_eq!(run(h.state(), b).epochs.thinned(), 0);
    // The thinned ones are among the older half; the newest half are all kept.
    assert!(
        (long / 2..=long).all(|e| ka.contains(&e)),
        "a recent epoch was thinned: {ka:?}"
    );
    redraw(&mut h);
    h.get_by_label(&format!("{} older epochs thinned", long - ka.len()));

    // Scrub to a thinned epoch, to one the short run never reached, and to one both kept.
    let thinned = (1..long)
        .find(|e| !ka.contains(e))
        .expect("a thinned epoch");
    let cfg = [a, b].map(|id| run(h.state(), id).config.clone());
    for e in [thinned, 20, 3] {
        h.state_mut().push_command(UiCommand::Scrub(Some(e)));
        redraw(&mut h);
        quiesce(&mut h);
        for (k, &id) in [a, b].iter().enumerate() {
            let own = kept(&h, id);
            let want = *own.iter().rev().find(|&&x| x <= e).unwrap();
            let r = run(h.state(), id);
            let shown = r.shown().unwrap();
            assert_eq!(
                (shown.epoch, shown.step),
                (want, want as u64),
                "{} scrubbed to {e}: shows epoch {} (step {}), its nearest kept is {want}",
                r.name,
                shown.epoch,
                shown.step
            );
            // Those are the weights that many steps of its own training give.
            let mut t = Trainer::new(cfg[k].clone(), small(64, TEST_DIGITS), &cpu()).unwrap();
            for _ in 0..want {
                t.step().unwrap();
            }
            assert_eq!(
                param_values(&shown.model),
                param_values(&t.snapshot().model),
                "{} scrubbed to {e}: not the weights after {want} steps",
                r.name
            );
            let text = if want == e {
                format!("epoch {e}")
            } else {
                format!("epoch {want} (nearest kept ≤ {e})")
            };
            assert!(
                h.query_all_by_label(&text).next().is_some(),
                "{}: no {text:?} under its image",
                r.name
            );
        }
    }
}

/// Each run's newest request id per view.
fn requests(app: &ExplorerApp, ids: &[RunId; 2]) -> Vec<std::collections::HashMap<ViewKey, u64>> {
    ids.iter()
        .map(|&id| run(app, id).views.requested.clone())
        .collect()
}

#[test]
fn a_frame_asks_a_decoder_only_for_the_jobs_a_settings_edit_changed() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    await_images(&mut h, ViewKey::Grid);
    let settled = requests(h.state(), &ids);
    for r in &settled {
        for key in [ViewKey::Stats, ViewKey::Slider, ViewKey::Grid] {
            assert!(r.contains_key(&key), "{key:?} never asked: {r:?}");
        }
    }
    // Frames with nothing changed ask for nothing.
    h.run_steps(5);
    assert_eq!(
        requests(h.state(), &ids),
        settled,
        "asked again with nothing changed"
    );
    // An edit undone before the next frame changes no job: nothing is asked.
    let size = h.state().persisted.view.grid_size;
    h.state_mut().persisted.view.grid_size = size - 1;
    h.state_mut().persisted.view.grid_size = size;
    h.run_steps(3);
    assert_eq!(
        requests(h.state(), &ids),
        settled,
        "an undone edit asked again"
    );
    // The grid's size edited directly (no command): every run's grid, and only its grid,
    // is asked again, and decodes 3 × 3 images.
    h.state_mut().persisted.view.grid_size = 3;
    await_images(&mut h, ViewKey::Grid);
    let after = requests(h.state(), &ids);
    for (k, &id) in ids.iter().enumerate() {
        let (a, b) = (&settled[k], &after[k]);
        assert!(
            b[&ViewKey::Grid] > a[&ViewKey::Grid],
            "the grid was not asked again"
        );
        let others: Vec<_> = a.keys().filter(|&&key| key != ViewKey::Grid).collect();
        for key in others {
            assert_eq!(a[key], b[key], "{key:?} asked again for a grid edit");
        }
        assert_eq!(
            run(h.state(), id).image(ViewKey::Grid).map(|i| i.n),
            Some(9)
        );
    }
}

/// Brute-force neighbours computed here: every row's distance to `q`, nearest first.
fn brute_nearest(rows: &[f32], q: &[f32], d: usize) -> Vec<(f64, usize)> {
    let mut all: Vec<(f64, usize)> = rows
        .chunks(d)
        .enumerate()
        .map(|(i, r)| {
            let s: f64 = r
                .iter()
                .zip(q)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            (s.sqrt(), i)
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    all
}

/// Whether the shown neighbours are the brute-force ones: the same distances (within
/// `tol`) and the same images wherever the next distance is more than `tol` away.
fn same_neighbours(shown: &[latent_explorer::explore::Neighbour], want: &[(f64, usize)], tol: f64) {
    assert_eq!(shown.len(), HOLES_NEIGHBOURS);
    for (j, n) in shown.iter().enumerate() {
        let (dist, index) = want[j];
        assert!(
            (n.distance as f64 - dist).abs() <= tol,
            "neighbour {j}: distance {} vs {dist}",
            n.distance
        );
        let clear = (j == 0 || want[j].0 - want[j - 1].0 > tol) && want[j + 1].0 - dist > tol;
        if clear {
            assert_eq!(n.index, index, "neighbour {j}");
        }
    }
}

/// The holes tab: asked for only while shown; each run's N(0, I) draws are the prior
/// tab's noise and both samplers' draws are decoded with the run's own weights; its codes
/// are its whole training split; each draw's nearest training images in pixel space and in
/// latent space are those of a brute-force search done here (codes encoded here too).
#[test]
fn the_holes_tab_decodes_each_runs_draws_and_finds_their_nearest_training_images() {
    let (mut h, ids) = two_runs(CompareTab::Latents);
    h.run_steps(3);
    for r in requests(h.state(), &ids) {
        assert!(
            !r.contains_key(&ViewKey::Holes),
            "asked with the tab closed"
        );
    }
    h.state_mut().persisted.view.compare_tab = CompareTab::Holes;
    run_until(&mut h, 240, "both runs' holes", |a| {
        a.runs.iter().all(|r| r.views.holes.is_some())
    });
    quiesce(&mut h);
    let refs = pair().map(|p| Reference::load(&p));
    let seed = h.state().runs.cursor.prior_seed;
    let mut drawn = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        let r = run(h.state(), id);
        let got = r.views.holes.as_deref().expect("holes arrived");
        let rf = &refs[k];
        let d = rf.d;
        assert_eq!(got.holes.prior.z, prior_noise(seed, HOLES_SAMPLES, d));
        let train = &r.data.train;
        assert_eq!(got.codes, train.len());
        let p = train.image_len();
        let px = train.pixels.to_f32();
        let codes = vec_of(rf.model.encode(tensor(px.clone(), train.len(), p)).0);
        for (view, draws) in [(&got.prior, &got.holes.prior), (&got.gmm, &got.holes.gmm)] {
            let want = rf.decode(&draws.z);
            let worst = max_abs_diff(&view.pixels, &want);
            assert!(
                worst <= 1e-4,
                "{}: decodes {worst} from the reference",
                NAMES[k]
            );
            let score = view.score.expect("digits are probed");
            assert!((0.1..=1.0).contains(&score.confidence));
            assert!((1.0..=10.0).contains(&score.inception));
            for i in (0..HOLES_SAMPLES).step_by(3) {
                let x = &view.pixels[i * p..(i + 1) * p];
                same_neighbours(&view.near_pixels[i], &brute_nearest(&px, x, p), 1e-3);
                let z = &draws.z[i * d..(i + 1) * d];
                let near = brute_nearest(&codes, z, d);
                same_neighbours(&view.near_codes[i], &near, 1e-3);
                assert!((draws.gap[i] as f64 - near[0].0).abs() <= 1e-3);
            }
        }
        drawn.push(got.prior.pixels.clone());
    }
    assert!(
        max_abs_diff(&drawn[0], &drawn[1]) > 0.1,
        "two models drew the same"
    );
    // Closed again: nothing more is asked.
    let asked = requests(h.state(), &ids);
    h.state_mut().persisted.view.compare_tab = CompareTab::Latents;
    h.run_steps(5);
    let after = requests(h.state(), &ids);
    for k in 0..2 {
        assert_eq!(asked[k][&ViewKey::Holes], after[k][&ViewKey::Holes]);
    }
    // The focus layout: new draws are asked for the focused run only, and drawn.
    {
        let app = h.state_mut();
        app.persisted.view.layout = Layout::Focus;
        app.persisted.view.compare_tab = CompareTab::Holes;
        app.runs.focused = Some(ids[1]);
        app.runs.cursor.prior_seed += 1;
    }
    let seed = seed + 1;
    run_until(&mut h, 240, "the focused run's new holes", |a| {
        run(a, ids[1])
            .views
            .holes
            .as_ref()
            .is_some_and(|r| r.job.seed == seed)
    });
    quiesce(&mut h);
    let focused = run(h.state(), ids[1]).views.holes.as_deref().unwrap();
    assert_eq!(
        focused.holes.prior.z,
        prior_noise(seed, HOLES_SAMPLES, refs[1].d)
    );
    assert_eq!(
        requests(h.state(), &ids)[0][&ViewKey::Holes],
        after[0][&ViewKey::Holes],
        "the run not in focus was asked"
    );
    h.get_by_label("Prior holes");
}
