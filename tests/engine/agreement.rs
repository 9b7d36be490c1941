//! The CLI and the app compute what they both show in one place (`explore`), so they agree:
//! on a Gaussian VAE and on a VQ-VAE, `traverse`'s rows come in the order of the app's
//! sliders (one rule: mean KL, or a VQ-VAE's code variance, named so by both); the anomaly
//! panel names the score and its caveats as `anomaly` does, with the same scores for the
//! same seed; `traverse --frames` and the app's frame export write the same files; and the
//! bounded view settings keep to one range in the control, `sanitize` and the view.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use latent_explorer::checkpoint::{self, DatasetInfo};
use latent_explorer::data::Shift;
use latent_explorer::explore::{DimensionScore, ScoreKind, dimension_stats};
use latent_explorer::export::ExportFormat;
use latent_explorer::train::{RunSpec, Trainer};
use latent_explorer::ui::decoder::{Job, ViewKey};
use latent_explorer::ui::settings::{
    self, CompareTab, PATH_STEPS, Persisted, TRAVERSAL_ROWS, TRAVERSAL_STEPS,
};
use latent_explorer::ui::{AppOptions, ExplorerApp, UiCommand};
use latent_explorer::variant::VariantKind;

use crate::app::{harness, nth_run, options, quiesce, run_id, run_until};
use crate::common::cpu;
use crate::explore_tools::{fixture, fixture_data, ok, s};

/// The two models every agreement is checked on, trained one epoch (10 steps) on the
/// exploring tools' data: a Gaussian VAE (5 latent dimensions) and a VQ-VAE (6 dimensions,
/// codes of 2 from a codebook of 32).
struct Models {
    vae: PathBuf,
    vq: PathBuf,
}

fn models() -> &'static Models {
    static M: OnceLock<Models> = OnceLock::new();
    M.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agreement");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let data = Arc::new(fixture_data());
        let train = |spec: RunSpec, name: &str| {
            let cfg = spec.train_config(&data);
            let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
            while t.epoch() < 1 {
                t.step().unwrap();
            }
            let path = dir.join(name);
            checkpoint::save_snapshot(&path, &t.snapshot(), DatasetInfo::of(&data), None).unwrap();
            path
        };
        let base = RunSpec {
            hidden: vec![32],
            batch: 100,
            epochs: 1,
            ..RunSpec::default()
        };
        Models {
            vae: train(
                RunSpec {
                    latent: 5,
                    ..base.clone()
                },
                "vae.safetensors",
            ),
            vq: train(
                RunSpec {
                    variant: VariantKind::VqVae,
                    latent: 6,
                    vq_codes: 32,
                    vq_code_dim: 2,
                    ..base
                },
                "vq.safetensors",
            ),
        }
    })
}

/// The app on the exploring tools' data with `ckpt` open on `tab`, its statistics computed
/// and its views settled; `adjust` edits the view settings first.
fn app_with(
    ckpt: &Path,
    tab: CompareTab,
    adjust: impl FnOnce(&mut settings::ViewSettings),
) -> Harness<'static, ExplorerApp> {
    let mut opts: AppOptions = options(1000, 50, 20);
    opts.data = Some(Arc::new(fixture_data()));
    opts.autostart = false;
    opts.open = vec![ckpt.to_path_buf()];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = tab;
        adjust(v);
    }
    let mut h = harness(opts);
    run_until(&mut h, 60, "the run's statistics", |a| {
        a.runs
            .iter()
            .next()
            .is_some_and(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    h
}

/// `traverse`'s table: (dimension, score) per row in order, and the score's heading.
fn traverse_rows(ckpt: &Path, dims: usize) -> (Vec<(usize, f64)>, String) {
    let f = fixture();
    let out = tempfile::tempdir().unwrap();
    let text = ok(&[
        "traverse",
        s(ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&out.path().join("t.png")),
        "--dims",
        &dims.to_string(),
        "--steps",
        "2",
    ]);
    let heading = text
        .lines()
        .find(|l| l.split_whitespace().take(2).eq(["row", "dim"]))
        .unwrap_or_else(|| panic!("no table heading: {text}"))
        .to_string();
    let rows = text
        .lines()
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .map(|w| w.parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (v.len() == 5).then(|| (v[1] as usize, v[2]))
        })
        .collect();
    (rows, heading)
}

/// The latent sliders' dimensions, top to bottom, as the app lays them out.
fn slider_order(h: &Harness<'_, ExplorerApp>) -> Vec<usize> {
    h.query_all_by_role(Role::Slider)
        .filter_map(|n| {
            let label = n.accesskit_node().label()?;
            label.strip_prefix('z')?.parse().ok()
        })
        .collect()
}

#[test]
fn traverse_rows_come_in_the_order_of_the_apps_sliders_for_a_vae_and_a_vq_vae() {
    let m = models();
    let data = fixture_data();
    for (ckpt, d, score) in [
        (&m.vae, 5, DimensionScore::Kl),
        (&m.vq, 6, DimensionScore::CodeVariance),
    ] {
        let name = ckpt.file_name().unwrap().to_string_lossy().into_owned();
        // The command, through its text output.
        let (rows, heading) = traverse_rows(ckpt, d);
        let cli: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(cli.len(), d, "{name}: {rows:?}");
        assert!(heading.contains(score.heading()), "{name}: {heading}");
        if score == DimensionScore::CodeVariance {
            assert!(
                !heading.contains("KL"),
                "{name}: a VQ-VAE has no KL: {heading}"
            );
        }
        // The library's statistics of the same model and data.
        let loaded = checkpoint::load(ckpt, &cpu()).unwrap();
        let (_, stats) = dimension_stats(&loaded.model, &data, data.test.len(), &cpu());
        assert_eq!(stats.score, score, "{name}");
        assert_eq!(stats.order(), cli, "{name}: the library's order");
        for &(j, v) in &rows {
            let want = stats.score_of(j).unwrap();
            assert!((v - want).abs() < 1e-3, "{name}: z{j} {v} vs {want}");
        }
        // The scores differ, so the order is the statistic's and not the tie-break's.
        assert!(
            rows.windows(2).all(|w| w[0].1 >= w[1].1) && rows[0].1 > rows[d - 1].1,
            "{name}: {rows:?}"
        );
        // The app: its statistics and the sliders it lays out.
        let h = app_with(ckpt, CompareTab::Latents, |_| {});
        let run = nth_run(h.state(), 0);
        let app_stats = &run.views.stats.as_ref().unwrap().dims;
        assert_eq!(app_stats.order(), cli, "{name}: the app's statistics");
        assert_eq!(slider_order(&h), cli, "{name}: the app's sliders");
        // Each slider names the statistic it is ordered by, as the table's heading does.
        let slider_note = |l: &str| {
            let v = l.strip_prefix(score.name())?.strip_prefix(' ')?;
            v.trim_end_matches(" · inactive").parse::<f64>().ok()
        };
        // (A label's text is its accesskit value.)
        let named = h
            .query_all_by_role(Role::Label)
            .filter_map(|n| n.accesskit_node().value())
            .filter(|l| slider_note(l).is_some())
            .count();
        assert_eq!(named, d, "{name}: sliders labelled {}", score.name());
    }
}

/// `anomaly --json`'s output for `ckpt` against `shift` (seed 0, −ELBO unless VQ).
fn anomaly_json(ckpt: &Path, shift: Shift) -> serde_json::Value {
    let f = fixture();
    let out = ok(&[
        "anomaly",
        s(ckpt),
        "--data",
        s(&f.data),
        "--shift",
        &shift.to_string(),
        "--seed",
        "0",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v["data"].clone()
}

#[test]
fn the_anomaly_panel_names_the_score_and_caveats_as_anomaly_does() {
    let m = models();
    // A VQ-VAE: reconstruction-only scores and no likelihood bound. A Gaussian VAE trained
    // with every class, scored against class 3: a caveat about that class.
    for (ckpt, shift, kind) in [
        (&m.vq, Shift::Invert, "reconstruction"),
        (&m.vae, Shift::Class(3), "neg_elbo"),
    ] {
        let name = ckpt.file_name().unwrap().to_string_lossy().into_owned();
        let v = anomaly_json(ckpt, shift);
        assert_eq!(v["score"], kind, "{name}: {v}");
        let notes: Vec<String> = v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        assert!(!notes.is_empty(), "{name}: a caveat is expected: {v}");
        let mut h = app_with(ckpt, CompareTab::Anomalies, |view| {
            view.explore.shift = shift;
            view.explore.anomaly_seed = 0;
        });
        run_until(&mut h, 120, "the anomaly report", |a| {
            nth_run(a, 0).views.anomaly.is_some()
        });
        h.run_steps(2);
        let rep = nth_run(h.state(), 0).views.anomaly.clone().unwrap().report;
        // The same report: kind, caveats, and the scores of the same seed.
        assert_eq!(rep.kind.key(), kind, "{name}");
        assert_eq!(rep.kind.describe(), v["score_text"], "{name}");
        assert_eq!(rep.caveats, notes, "{name}");
        assert_eq!(rep.normal.len() as u64, v["n_normal"].as_u64().unwrap());
        let close = |a: f64, b: &serde_json::Value| (a - b.as_f64().unwrap()).abs() < 1e-6;
        assert!(close(rep.mean_normal(), &v["mean_normal"]), "{name}: {v}");
        assert!(close(rep.mean_shifted(), &v["mean_shifted"]), "{name}: {v}");
        assert!(close(rep.auroc.unwrap(), &v["auroc"]), "{name}: {v}");
        let top = v["most_anomalous"][0]["index"].as_u64().unwrap() as usize;
        assert_eq!(rep.ranking[0], top, "{name}: the most anomalous image");
        // What the panel shows: the command's words.
        h.get_by_label(&format!("score: {}", v["score_text"].as_str().unwrap()));
        for n in &notes {
            h.get_by_label(&format!("note: {n}"));
        }
        if kind == "reconstruction" {
            assert!(
                h.query_by_label_contains("−ELBO,").is_none(),
                "{name}: a VQ-VAE's scores labelled −ELBO"
            );
            assert_eq!(rep.kind, ScoreKind::Reconstruction);
        }
    }
}

#[test]
fn traverse_frames_and_the_apps_frame_export_write_the_same_files() {
    let m = models();
    let f = fixture();
    let out = tempfile::tempdir().unwrap();
    let cli_dir = out.path().join("cli");
    let gif = out.path().join("t.gif");
    // The app's defaults: the prior's 5%…95%, the cursor on test digit 0's code.
    ok(&[
        "traverse",
        s(&m.vae),
        "--data",
        s(&f.data),
        "--out",
        s(&gif),
        "--steps",
        "5",
        "--dims",
        "3",
        "--digit",
        "0",
        "--frames",
        s(&cli_dir),
    ]);
    let mut h = app_with(&m.vae, CompareTab::Traversals, |v| {
        v.explore.traversal_rows = 3;
        v.explore.traversal_steps = 5;
    });
    run_until(&mut h, 60, "the traversal", |a| {
        matches!(
            nth_run(a, 0).views.jobs.get(&ViewKey::Traversal),
            Some(Job::Decode { n: 15, .. })
        )
    });
    let id = run_id(h.state(), 0);
    let app_dir = out.path().join("app");
    let app_gif = out.path().join("app.gif");
    for (format, path) in [
        (ExportFormat::Frames, &app_dir),
        (ExportFormat::Gif, &app_gif),
    ] {
        h.state_mut().push_command(UiCommand::Export {
            run: id,
            view: ViewKey::Traversal,
            cols: 5,
            format,
            path: Some(path.clone()),
        });
    }
    run_until(&mut h, 60, "the exports", |a| {
        !a.errors.is_empty() || a.notes.iter().filter(|n| n.starts_with("saved")).count() == 2
    });
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    let names = |dir: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&cli_dir), names(&app_dir));
    assert_eq!(names(&cli_dir).len(), 5, "one frame per value");
    for n in names(&cli_dir) {
        let a = image::open(cli_dir.join(&n)).unwrap().to_luma8();
        let b = image::open(app_dir.join(&n)).unwrap().to_luma8();
        assert_eq!(a, b, "{n}: the app's frame differs from traverse's");
    }
    // The GIFs: the same frames, forth and back.
    use image::AnimationDecoder;
    let frames = |p: &Path| {
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(std::fs::read(p).unwrap()))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap()
    };
    let (a, b) = (frames(&gif), frames(&app_gif));
    assert_eq!((a.len(), b.len()), (8, 8));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.buffer(), y.buffer());
        assert_eq!(x.delay(), y.delay());
    }
}

#[test]
fn path_and_traversal_bounds_are_one_range_in_the_control_sanitize_and_the_view() {
    // A saved file asking for more than the controls offer is brought to their ends.
    let mut wild = Persisted::default();
    wild.view.explore.path_steps = 1000;
    wild.view.explore.traversal_steps = 1000;
    wild.view.explore.traversal_rows = 1000;
    wild.sanitize();
    let e = &wild.view.explore;
    assert_eq!(
        (e.path_steps, e.traversal_steps, e.traversal_rows),
        (
            *PATH_STEPS.end(),
            *TRAVERSAL_STEPS.end(),
            *TRAVERSAL_ROWS.end()
        )
    );
    // The controls offer exactly those ranges.
    let m = models();
    let max = |h: &Harness<'_, ExplorerApp>, label: &str| {
        h.get_by_role_and_label(Role::Slider, label)
            .accesskit_node()
            .max_numeric_value()
    };
    let mut h = app_with(&m.vae, CompareTab::Traversals, |v| {
        // Unsanitised, as a test or a future caller might set it: the view clamps too.
        v.explore.traversal_steps = 1000;
        v.explore.traversal_rows = 2;
    });
    assert_eq!(max(&h, "values"), Some(*TRAVERSAL_STEPS.end() as f64));
    assert_eq!(max(&h, "dimensions"), Some(*TRAVERSAL_ROWS.end() as f64));
    let end = *TRAVERSAL_STEPS.end();
    run_until(&mut h, 60, "the traversal at the largest size", |a| {
        matches!(
            nth_run(a, 0).views.jobs.get(&ViewKey::Traversal),
            Some(Job::Decode { n, .. }) if *n == 2 * end
        )
    });
    h.state_mut().persisted.view.compare_tab = CompareTab::Paths;
    h.run_steps(2);
    assert_eq!(max(&h, "steps"), Some(*PATH_STEPS.end() as f64));
}
