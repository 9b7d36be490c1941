//! The desktop app under egui_kittest, training on the CPU backend and drawing through the
//! wgpu renderer (lavapipe in CI): controls by label, lock-step sliders over several runs,
//! save and load, continuing a loaded run, following a run directory another process
//! writes, freeing a removed run's painter slots, the epoch scrubber, and bad files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::accesskit::Role;
use eframe::{egui, egui_wgpu};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use latent_explorer::checkpoint::{self, DatasetInfo};
use latent_explorer::gpu::TileSource;
use latent_explorer::train::share::SharingPolicy;
use latent_explorer::train::{Command, RunSpec, Trainer, WorkerState};
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::run::{Run, RunId, RunSource};
use latent_explorer::ui::{
    AppOptions, DeviceChoice, ExplorerApp, RunAction, RunDraft, UiCommand, ViewSettings,
};

use crate::common::{cpu, param_values, small};

pub(crate) fn draft(batch: usize, epochs: usize, seed: u64) -> RunDraft {
    RunDraft {
        spec: RunSpec {
            batch,
            epochs,
            seed,
            ..RunSpec::default()
        },
        device: DeviceChoice::Cpu,
        sharing: SharingPolicy::GateLowPriority,
        data_dir: String::new(),
    }
}

pub(crate) fn options(data_train: usize, batch: usize, epochs: usize) -> AppOptions {
    AppOptions {
        data: Some(small(data_train, 300)),
        device: Some(DeviceChoice::Cpu),
        autostart: true,
        draft: Some(draft(batch, epochs, 0)),
        view: Some(ViewSettings {
            grid_size: 5,
            ..ViewSettings::default()
        }),
        ..AppOptions::default()
    }
}

pub(crate) fn harness(opts: AppOptions) -> Harness<'static, ExplorerApp> {
    let mut setup = egui_wgpu::WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(latent_explorer::gpu::device_descriptor);
    Harness::builder()
        .with_size([1600.0, 1000.0])
        .wgpu_setup(egui_wgpu::WgpuSetup::CreateNew(setup))
        .build_eframe(move |cc| ExplorerApp::new(cc, opts.clone()))
}

/// Step the harness in real time until `pred` holds.
pub(crate) fn run_until(
    h: &mut Harness<'_, ExplorerApp>,
    secs: u64,
    what: &str,
    mut pred: impl FnMut(&ExplorerApp) -> bool,
) {
    let start = Instant::now();
    while !pred(h.state()) {
        let app = h.state();
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}; errors {:?}; runs {:?}",
            app.errors,
            app.runs
                .iter()
                .map(|r| (&r.name, r.status.state, r.status.step, &r.status.errors))
                .collect::<Vec<_>>()
        );
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Assert two images are the same pixels, reporting their L1 distance (not every pixel).
#[track_caller]
fn assert_same(a: &[f32], b: &[f32], what: &str) {
    assert!(a == b, "{what} (L1 distance {})", l1(a, b));
}

/// Step the harness until every run's decoder has been idle (nothing queued, running or
/// due, every output applied) on two frames in a row: what the views show is then final
/// until something changes. The deadline only fails the test.
pub(crate) fn quiesce(h: &mut Harness<'_, ExplorerApp>) {
    // Checked before each step: three idle checks in a row span two stepped frames.
    let mut quiet = 0;
    run_until(h, 60, "the views to settle", |app| {
        quiet = if app.runs.iter().all(|r| r.decoder.idle()) {
            quiet + 1
        } else {
            0
        };
        quiet >= 3
    });
}

pub(crate) fn nth_run(app: &ExplorerApp, i: usize) -> &Run {
    app.runs.iter().nth(i).expect("run exists")
}

pub(crate) fn run_id(app: &ExplorerApp, i: usize) -> RunId {
    nth_run(app, i).id
}

/// How many times each run's slider image has been replaced.
fn slider_versions(h: &Harness<'_, ExplorerApp>, ids: &[RunId]) -> Vec<u64> {
    ids.iter()
        .map(|&id| {
            h.state()
                .runs
                .get(id)
                .unwrap()
                .image_version(ViewKey::Slider)
        })
        .collect()
}

/// Whether every run has replaced its slider image since `versions`.
fn all_newer(app: &ExplorerApp, ids: &[RunId], versions: &[u64]) -> bool {
    ids.iter()
        .zip(versions)
        .all(|(&id, &v)| app.runs.get(id).unwrap().image_version(ViewKey::Slider) > v)
}

fn host_pixels(run: &Run, key: ViewKey) -> Vec<f32> {
    match run.image(key).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        _ => panic!("expected host pixels on the CPU backend"),
    }
}

fn l1(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

#[test]
fn app_trains_and_responds_to_its_controls() {
    let mut h = harness(options(2000, 32, 1000));
    run_until(&mut h, 120, "training steps", |a| {
        a.runs.iter().next().is_some_and(|r| r.status.step >= 150)
    });
    assert!(
        h.state().device_label().contains("CPU"),
        "{}",
        h.state().device_label()
    );
    for label in [
        "Pause",
        "Resume",
        "Step",
        "Save…",
        "Remove",
        "New run",
        "Preset: 4 variants",
        "Open…",
        "Follow dir…",
        "Compare runs",
        "Focus",
        "Latent sliders",
        "Interpolation grid",
        "Metrics",
    ] {
        h.get_by_label(label);
    }
    h.get_by_label_contains("Training device: CPU");

    // Pause stops the step counter.
    h.get_by_label("Pause").click();
    run_until(&mut h, 30, "paused", |a| {
        nth_run(a, 0).status.state == WorkerState::Paused
    });
    let paused_at = nth_run(h.state(), 0).status.step;
    // One step on request: the counter moves by exactly one and the run stays paused (a
    // worker still stepping would have moved it further by the time this step's event
    // arrives: events come in order).
    h.get_by_label("Step").click();
    run_until(&mut h, 30, "one step", |a| {
        nth_run(a, 0).status.step > paused_at
    });
    let r = nth_run(h.state(), 0);
    assert_eq!(r.status.step, paused_at + 1, "steps advanced while paused");
    assert_eq!(r.status.state, WorkerState::Paused);

    // The sliders start on test digit 0's code: the slider image is its reconstruction.
    run_until(&mut h, 60, "a slider image", |a| {
        nth_run(a, 0).image(ViewKey::Slider).is_some() && nth_run(a, 0).views.stats.is_some()
    });
    quiesce(&mut h);
    assert!(h.state().runs.cursor.follow_digit);
    let run = nth_run(h.state(), 0);
    let code = h.state().runs.cursor.latent_for(run).unwrap();
    let snap = run.shown().unwrap();
    let z = burn::tensor::Tensor::<2>::from_data(
        burn::tensor::TensorData::new(code.clone(), [1, code.len()]),
        &cpu(),
    );
    let expect = crate::common::vec_of(snap.model.decode_mean(z));
    let d = l1(&host_pixels(run, ViewKey::Slider), &expect);
    assert!(
        d < 1e-3,
        "slider image is not the decode of digit 0's code (L1 {d})"
    );

    let before = host_pixels(nth_run(h.state(), 0), ViewKey::Slider);
    let version = nth_run(h.state(), 0).image_version(ViewKey::Slider);
    h.get_by_role_and_label(Role::Slider, "z0")
        .set_value_accesskit(2.5);
    run_until(&mut h, 10, "z0 = 2.5 from the slider", |a| {
        !a.runs.cursor.follow_digit && a.runs.cursor.z.first() == Some(&2.5)
    });
    run_until(&mut h, 30, "a new slider image", |a| {
        nth_run(a, 0).image_version(ViewKey::Slider) > version
    });
    let after = host_pixels(nth_run(h.state(), 0), ViewKey::Slider);
    let diff = l1(&before, &after);
    assert!(diff > 1.0, "the decoded image did not change (L1 {diff})");
    assert!(
        !h.state().frames.slider_frames.is_empty(),
        "no slider latency recorded"
    );

    // Resume restarts it.
    h.get_by_label("Resume").click();
    run_until(&mut h, 60, "steps after resume", |a| {
        nth_run(a, 0).status.step >= paused_at + 3
    });

    // A worker error appears in the UI.
    let id = run_id(h.state(), 0);
    h.state_mut().push_command(UiCommand::Run(
        id,
        RunAction::Worker(Command::DebugPanic("injected failure".into())),
    ));
    run_until(&mut h, 30, "the failure", |a| {
        nth_run(a, 0).status.state == WorkerState::Failed
    });
    h.step();
    h.get_by_label_contains("injected failure");

    // The frame renders through wgpu with the tile painter.
    let img = h.render().expect("render");
    assert!(img.width() > 0);
}

/// Start a second run from the draft with another seed, pause both, and wait until both
/// have shown a slider image.
fn two_paused_runs(h: &mut Harness<'_, ExplorerApp>) -> (RunId, RunId) {
    h.state_mut().persisted.draft.spec.seed = 7;
    h.state_mut().push_command(UiCommand::NewRun);
    run_until(h, 60, "two runs training", |a| {
        a.runs.len() == 2 && a.runs.iter().all(|r| r.status.step >= 20)
    });
    let (a, b) = (run_id(h.state(), 0), run_id(h.state(), 1));
    for id in [a, b] {
        h.state_mut()
            .push_command(UiCommand::Run(id, RunAction::Worker(Command::Pause)));
    }
    run_until(h, 30, "both paused with images", |app| {
        app.runs.iter().all(|r| {
            r.status.state == WorkerState::Paused
                && r.image(ViewKey::Slider).is_some()
                && r.views.stats.is_some()
        })
    });
    quiesce(h);
    (a, b)
}

#[test]
fn two_runs_follow_one_slider_in_lock_step() {
    let mut h = harness(options(2000, 32, 1000));
    let (a, b) = two_paused_runs(&mut h);
    let before: Vec<Vec<f32>> = [a, b]
        .iter()
        .map(|&id| host_pixels(h.state().runs.get(id).unwrap(), ViewKey::Slider))
        .collect();
    let versions = slider_versions(&h, &[a, b]);
    // One slider move, of a dimension both runs use (after a few steps of training some
    // dimensions are still inactive, and moving one of those changes next to nothing).
    let kl = |id| {
        h.state()
            .runs
            .get(id)
            .unwrap()
            .views
            .stats
            .as_ref()
            .unwrap()
            .dims
            .kl_per_dim
            .clone()
    };
    let (ka, kb) = (kl(a), kl(b));
    let dim = (0..ka.len())
        .max_by(|&i, &j| ka[i].min(kb[i]).total_cmp(&ka[j].min(kb[j])))
        .unwrap();
    h.get_by_role_and_label(Role::Slider, &format!("z{dim}"))
        .set_value_accesskit(-2.0);
    run_until(&mut h, 30, "new images in both runs", |app| {
        all_newer(app, &[a, b], &versions)
    });
    quiesce(&mut h);
    let z = h.state().runs.cursor.z.clone();
    assert_eq!(z[dim], -2.0);
    for (i, &id) in [a, b].iter().enumerate() {
        let run = h.state().runs.get(id).unwrap();
        let after = host_pixels(run, ViewKey::Slider);
        let d = l1(&before[i], &after);
        assert!(d > 1.0, "{}: the image did not change (L1 {d})", run.name);
        // Each run decoded the one shared vector with its own weights.
        let snap = run.shown().unwrap();
        let t = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(z.clone(), [1, z.len()]),
            &cpu(),
        );
        let expect = crate::common::vec_of(snap.model.decode_mean(t));
        assert_eq!(
            after, expect,
            "{}: not the decode of the shared vector",
            run.name
        );
    }
    let (ia, ib) = (
        host_pixels(h.state().runs.get(a).unwrap(), ViewKey::Slider),
        host_pixels(h.state().runs.get(b).unwrap(), ViewKey::Slider),
    );
    assert!(
        l1(&ia, &ib) > 1.0,
        "two different models drew the same image"
    );

    // A run of another latent size says so instead of decoding a padded vector.
    h.state_mut().persisted.draft.spec.latent = 5;
    h.state_mut().push_command(UiCommand::NewRun);
    run_until(&mut h, 60, "the 5-d run's issue", |app| {
        app.runs.len() == 3 && nth_run(app, 2).views.issue.is_some()
    });
    let issue = nth_run(h.state(), 2).views.issue.clone().unwrap();
    assert!(
        issue.contains("latent size 5") && issue.contains("20"),
        "{issue}"
    );
    h.step();
    // Said where its slider image and its grid would be.
    assert_eq!(h.get_all_by_label_contains("latent size 5").count(), 2);
}

#[test]
fn saving_then_opening_a_run_gives_bit_identical_decodes() {
    let mut h = harness(options(2000, 32, 1000));
    run_until(&mut h, 60, "training", |a| {
        a.runs.iter().next().is_some_and(|r| r.status.step >= 30)
    });
    let a = run_id(h.state(), 0);
    h.state_mut()
        .push_command(UiCommand::Run(a, RunAction::Worker(Command::Pause)));
    run_until(&mut h, 30, "paused", |app| {
        nth_run(app, 0).status.state == WorkerState::Paused
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.safetensors");
    h.state_mut()
        .push_command(UiCommand::Run(a, RunAction::Save(Some(path.clone()))));
    run_until(&mut h, 30, "the save", |app| {
        app.io_in_flight() == 0 && path.exists()
    });
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    // The file is the CLI's format: it loads with the library, with the run's step.
    let loaded = checkpoint::load(&path, &cpu()).unwrap();
    assert_eq!(loaded.meta.step, nth_run(h.state(), 0).status.step);

    h.state_mut()
        .push_command(UiCommand::Open(vec![path.clone()]));
    run_until(&mut h, 30, "the opened run", |app| app.runs.len() == 2);
    let b = run_id(h.state(), 1);
    assert!(matches!(
        h.state().runs.get(b).unwrap().source,
        RunSource::Loaded { .. }
    ));
    assert_eq!(h.state().runs.get(b).unwrap().name, "saved");
    h.state_mut().push_command(UiCommand::RandomizeLatent);
    let versions = slider_versions(&h, &[a, b]);
    run_until(&mut h, 30, "both images of the random vector", |app| {
        all_newer(app, &[a, b], &versions)
    });
    quiesce(&mut h);
    let ia = host_pixels(h.state().runs.get(a).unwrap(), ViewKey::Slider);
    let ib = host_pixels(h.state().runs.get(b).unwrap(), ViewKey::Slider);
    assert_same(&ia, &ib, "the saved and reopened model decode differently");
    // The whole model, not one image: every weight is the same.
    let sa = h.state().runs.get(a).unwrap().latest().unwrap();
    let sb = h.state().runs.get(b).unwrap().latest().unwrap();
    assert_eq!(param_values(&sa.model), param_values(&sb.model));
    assert!(h.state().persisted.workspace.recent.contains(&path));
}

/// Train `epochs` epochs headless and save a checkpoint; returns its path's directory guard.
pub(crate) fn trained_checkpoint(dir: &Path, epochs: usize) -> (PathBuf, Vec<f32>, u64) {
    let data = small(2000, 300);
    let cfg = RunSpec {
        batch: 64,
        epochs,
        ..RunSpec::default()
    }
    .train_config(&data);
    let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    while t.epoch() < epochs {
        t.step().unwrap();
    }
    let path = dir.join("trained.safetensors");
    let snap = t.snapshot();
    checkpoint::save_snapshot(&path, &snap, DatasetInfo::of(&data), Some(t.evaluate(0))).unwrap();
    (path, param_values(&snap.model), snap.step)
}

#[test]
fn a_loaded_run_continues_training() {
    let dir = tempfile::tempdir().unwrap();
    let (path, weights, step) = trained_checkpoint(dir.path(), 1);
    let mut opts = options(2000, 64, 2);
    opts.open = vec![path.clone()];
    let mut h = harness(opts);
    run_until(&mut h, 30, "the loaded run", |a| a.runs.len() == 1);
    let id = run_id(h.state(), 0);
    {
        let run = nth_run(h.state(), 0);
        assert!(matches!(run.source, RunSource::Loaded { .. }));
        assert_eq!(run.status.step, step);
        assert_eq!(run.history.epochs.len(), 1, "the file's metrics are shown");
    }
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Continue));
    run_until(&mut h, 120, "training past the file's step", |a| {
        let r = nth_run(a, 0);
        matches!(r.source, RunSource::Training(_)) && r.status.step >= step + 10
    });
    let run = nth_run(h.state(), 0);
    assert!(run.status.errors.is_empty(), "{:?}", run.status.errors);
    let now = param_values(&run.latest().unwrap().model);
    assert_ne!(now, weights, "the weights did not change");
    // It trains the draft's 2 more epochs, counting on from the file's epoch.
    run_until(&mut h, 180, "the continued run to finish", |a| {
        nth_run(a, 0).status.state == WorkerState::Finished
    });
    let run = nth_run(h.state(), 0);
    assert_eq!(run.status.epoch, 3);
    let epochs: Vec<usize> = run.history.epochs.iter().map(|(e, _, _)| *e).collect();
    assert_eq!(epochs, vec![1, 2, 3]);
}

#[test]
fn a_run_directory_written_by_another_train_process_is_followed_as_epochs_land() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_latent-explorer"))
        .args([
            "train",
            "--epochs",
            "3",
            "--final-iwae-k",
            "20",
            "--json",
            "--run-dir",
        ])
        .arg(&run_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start latent-explorer train");
    let mut opts = options(2000, 64, 2);
    opts.autostart = false;
    opts.data = None; // the bundled data, as the training process uses
    opts.follow = vec![run_dir.clone()];
    let mut h = harness(opts);
    let mut seen_while_running = Vec::new();
    let start = Instant::now();
    loop {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
        let running = child.try_wait().unwrap().is_none();
        let epochs = h
            .state()
            .runs
            .iter()
            .next()
            .map_or(0, |r| r.history.epochs.len());
        if running && !seen_while_running.contains(&epochs) {
            seen_while_running.push(epochs);
        }
        if !running && epochs == 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the followed run did not reach 3 epochs; seen {seen_while_running:?}"
        );
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "train failed: {status}");
    assert!(
        seen_while_running.contains(&1),
        "epoch 1 was not shown while the other process was still training: {seen_while_running:?}"
    );
    run_until(&mut h, 20, "the end of the run", |a| {
        nth_run(a, 0).status.state == WorkerState::Finished
    });
    let run = nth_run(h.state(), 0);
    assert_eq!(
        run.config.epochs, 3,
        "the configuration came from the directory"
    );
    assert_eq!(run.name, "run");
    // Curves: one point per training step of the three epochs (8000 / 128 = 63 each).
    assert_eq!(run.history.steps.len(), 3 * 63);
    // The weights shown are the last epoch's checkpoint.
    let last = checkpoint::load(&run_dir.join("epoch-0003.safetensors"), &cpu()).unwrap();
    assert_eq!(
        param_values(&run.latest().unwrap().model),
        param_values(&last.model)
    );
    assert_eq!(run.epochs.epochs(), vec![1, 2, 3]);
    // The final evaluation (IWAE, k = 20) replaced epoch 3's figures instead of adding a row.
    assert_eq!(run.history.epochs.len(), 3);
    let last = &run.history.epochs[2].2;
    assert_eq!(last.iwae_k, 20);
    assert!(last.iwae_nll.is_some_and(|v| v.is_finite()));
    // Its metrics, exported from the runs list, are the files `export-metrics` writes.
    let errors = h.state().errors.len();
    h.get_by_label("Metrics…").click();
    run_until(&mut h, 30, "the metrics exported", |a| {
        a.io_in_flight() == 0 && run_dir.join("metrics.csv").exists()
    });
    assert_eq!(h.state().errors.len(), errors, "{:?}", h.state().errors);
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let steps = csv.lines().filter(|l| l.starts_with("step,")).count();
    assert_eq!(steps, 3 * 63, "one CSV row per step");
    let records = latent_explorer::metrics_out::read_records(&run_dir).unwrap();
    assert_eq!(
        csv,
        latent_explorer::metrics_out::csv(&latent_explorer::metrics_out::scalars(&records))
    );
    let tb: Vec<_> = std::fs::read_dir(run_dir.join("tensorboard"))
        .unwrap()
        .collect();
    assert_eq!(tb.len(), 1, "one event file");
}

#[test]
fn removing_a_run_frees_its_painter_slots() {
    let mut h = harness(AppOptions {
        undo_window: Some(Duration::from_secs(1)),
        ..options(2000, 32, 1000)
    });
    let (a, b) = two_paused_runs(&mut h);
    h.render().expect("render");
    let slots = h.state().painter_slots();
    let owned = |id: RunId| slots.iter().filter(|&&k| id.owns_painter_key(k)).count();
    assert!(owned(a) >= 2 && owned(b) >= 2, "slots {slots:?}");
    h.state_mut()
        .push_command(UiCommand::Run(b, RunAction::Remove));
    h.step();
    // A run trained here can come back with Undo for a while: its slots go when that lapses.
    let kept = h.state().painter_slots();
    assert!(kept.iter().any(|&k| b.owns_painter_key(k)), "{kept:?}");
    run_until(&mut h, 30, "the undo to lapse", |a| {
        a.runs.removed.is_none()
    });
    let slots = h.state().painter_slots();
    assert_eq!(
        slots.iter().filter(|&&k| b.owns_painter_key(k)).count(),
        0,
        "the removed run's slots remain: {slots:?}"
    );
    assert!(slots.iter().any(|&k| a.owns_painter_key(k)), "{slots:?}");
    assert_eq!(h.state().runs.len(), 1);
    // The remaining run keeps drawing.
    h.render().expect("render");
    assert_eq!(h.state().runs.focused, Some(a));
}

/// `app --epochs N` sets the draft's epochs for this start: the run it trains has N.
#[test]
fn the_epochs_option_sets_the_runs_it_starts() {
    let mut h = harness(AppOptions {
        epochs: Some(7),
        ..options(2000, 32, 1000)
    });
    run_until(&mut h, 30, "a run", |a| !a.runs.is_empty());
    assert_eq!(nth_run(h.state(), 0).config.epochs, 7);
    assert_eq!(h.state().persisted.draft.spec.epochs, 7);
}

/// Every filled rectangle of the last frame with its visible area (clipped), nested shapes
/// included.
fn filled_rects(out: &egui::FullOutput) -> Vec<(egui::Color32, f32)> {
    fn visit(shape: &egui::Shape, clip: egui::Rect, acc: &mut Vec<(egui::Color32, f32)>) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| visit(s, clip, acc)),
            egui::Shape::Rect(r) if r.fill != egui::Color32::TRANSPARENT => {
                acc.push((r.fill, r.rect.intersect(clip).area().max(0.0)));
            }
            _ => {}
        }
    }
    let mut acc = Vec::new();
    for c in &out.shapes {
        visit(&c.shape, c.clip_rect, &mut acc);
    }
    acc
}

/// The window is cleared to the panel colour and no panel paints its background, and on a
/// software rasteriser no view fills a large area either: a full-window fill is about half
/// of a frame's cost there (README, "A fluid window").
#[test]
fn the_window_paints_no_panel_backgrounds() {
    use eframe::App as _;
    let mut h = harness(options(2000, 32, 1000));
    two_paused_runs(&mut h);
    h.step();
    let visuals = h.ctx.global_style().visuals.clone();
    assert_eq!(
        h.state().clear_color(&visuals),
        visuals.panel_fill.to_normalized_gamma_f32(),
        "the window is cleared to the panel colour"
    );
    let window = 1600.0 * 1000.0;
    let rects = filled_rects(h.output());
    assert!(
        rects.len() > 10,
        "the frame draws filled widgets: {rects:?}"
    );
    let panel: Vec<_> = rects
        .iter()
        .filter(|(c, a)| *c == visuals.panel_fill && *a > 0.02 * window)
        .collect();
    assert!(panel.is_empty(), "panel backgrounds painted: {panel:?}");
    let largest = rects.iter().map(|r| r.1).fold(0.0, f32::max);
    if h.state().software_renderer() {
        assert!(
            largest < 0.05 * window,
            "a fill of {largest} px on a software rasteriser: {rects:?}"
        );
    }
}

#[test]
fn the_epoch_scrubber_shows_a_runs_earlier_decodes_exactly() {
    // 256 training images, batch 64: four steps an epoch; the run stops after epoch 1.
    let mut h = harness(options(256, 64, 1));
    run_until(&mut h, 60, "epoch 1 finished", |a| {
        a.runs
            .iter()
            .next()
            .is_some_and(|r| r.status.state == WorkerState::Finished && r.epochs.last() == Some(1))
    });
    let id = run_id(h.state(), 0);
    h.state_mut().push_command(UiCommand::ZeroLatent);
    let v = nth_run(h.state(), 0).image_version(ViewKey::Slider);
    run_until(&mut h, 30, "the image of z = 0", |a| {
        nth_run(a, 0).image_version(ViewKey::Slider) > v
    });
    quiesce(&mut h);
    let at_epoch_1 = host_pixels(nth_run(h.state(), 0), ViewKey::Slider);

    // Two more epochs.
    h.state_mut().persisted.draft.spec.epochs = 2;
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Continue));
    run_until(&mut h, 120, "epoch 3", |a| {
        let r = nth_run(a, 0);
        r.epochs.last() == Some(3) && r.status.state == WorkerState::Finished
    });
    quiesce(&mut h);
    let at_epoch_3 = host_pixels(nth_run(h.state(), 0), ViewKey::Slider);
    assert!(
        l1(&at_epoch_1, &at_epoch_3) > 0.1,
        "training changed nothing"
    );

    let scrub_to = |h: &mut Harness<'_, ExplorerApp>, e: Option<usize>| {
        let v = nth_run(h.state(), 0).image_version(ViewKey::Slider);
        h.state_mut().push_command(UiCommand::Scrub(e));
        run_until(h, 30, "the scrubbed image", |a| {
            nth_run(a, 0).image_version(ViewKey::Slider) > v
        });
        quiesce(h);
        host_pixels(nth_run(h.state(), 0), ViewKey::Slider)
    };
    assert_eq!(
        scrub_to(&mut h, Some(1)),
        at_epoch_1,
        "epoch 1 is not shown as it was"
    );
    h.get_by_label("epoch 1");
    let at_2 = scrub_to(&mut h, Some(2));
    assert!(l1(&at_2, &at_epoch_1) > 0.0 && l1(&at_2, &at_epoch_3) > 0.0);
    let live = scrub_to(&mut h, None);
    assert_same(&live, &at_epoch_3, "back to live");
}

#[test]
fn bad_files_are_named_with_their_problem_and_nothing_else_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _, _) = trained_checkpoint(dir.path(), 1);
    let bytes = std::fs::read(&good).unwrap();
    let corrupt = dir.path().join("corrupt.safetensors");
    std::fs::write(
        &corrupt,
        b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": nonsense",
    )
    .unwrap();
    let truncated = dir.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mismatched = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch/sequential_vae.safetensors");
    let missing = dir.path().join("missing.pt");

    let mut h = harness(options(2000, 32, 1000));
    run_until(&mut h, 60, "training", |a| {
        a.runs.iter().next().is_some_and(|r| r.status.step >= 10)
    });
    h.state_mut().push_command(UiCommand::Open(vec![
        corrupt.clone(),
        truncated.clone(),
        mismatched.clone(),
        missing.clone(),
    ]));
    run_until(&mut h, 30, "four errors", |a| a.errors.len() >= 4);
    let errors = h.state().errors.join("\n");
    for (file, problem) in [
        ("corrupt.safetensors", "safetensors"),
        ("truncated.safetensors", ""),
        ("sequential_vae.safetensors", "unknown layout"),
        ("missing.pt", ""),
    ] {
        let line = h
            .state()
            .errors
            .iter()
            .find(|e| e.contains(file))
            .unwrap_or_else(|| panic!("no error names {file}:\n{errors}"));
        assert!(line.contains(problem), "{line}");
    }
    h.step();
    h.get_by_label_contains("corrupt.safetensors");
    assert_eq!(h.state().runs.len(), 1, "a bad file became a run");
    // The training run keeps going.
    let step = nth_run(h.state(), 0).status.step;
    run_until(&mut h, 60, "more steps", |a| {
        nth_run(a, 0).status.step >= step + 5
    });

    // A failed save leaves the file that was there untouched.
    // The temporary file of the atomic write cannot be created: with the target's name this
    // long, the temporary file's name is over the file system's limit of 255 bytes.
    let target = dir
        .path()
        .join(format!("{}keep.safetensors", "k".repeat(230)));
    std::fs::write(&target, &bytes).unwrap();
    let id = run_id(h.state(), 0);
    let errors_before = h.state().errors.len();
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Save(Some(target.clone()))));
    run_until(&mut h, 30, "the failed save", |a| {
        a.errors.len() > errors_before
    });
    let e = h.state().errors.last().unwrap().clone();
    assert!(
        e.contains("keep.safetensors") && e.contains("nothing was overwritten"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&target).unwrap(),
        bytes,
        "the saved file was changed"
    );
    assert!(nth_run(h.state(), 0).status.is_active());
}

#[test]
fn closing_keeps_the_runs_and_the_next_start_reopens_them() {
    use latent_explorer::ui::session::Autosave;
    use latent_explorer::ui::settings::Workspace;
    let autosave = tempfile::tempdir().unwrap();
    let mut h = harness(options(500, 32, 1000));
    run_until(&mut h, 60, "training", |a| {
        a.runs.len() == 1 && nth_run(a, 0).status.step >= 5
    });
    let id = run_id(h.state(), 0);
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Worker(Command::Pause)));
    run_until(&mut h, 30, "paused", |a| {
        nth_run(a, 0).status.state == WorkerState::Paused
    });
    // What eframe's save (every 30 s and at exit) does: write the training run's newest
    // weights and list the open runs.
    let mut saver = Autosave::default();
    let (session, errors) = saver.save(Some(autosave.path()), &h.state().runs);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(session.len(), 1, "{session:?}");
    let file = session[0].path.clone();
    assert!(file.starts_with(autosave.path()) && !session[0].follow);
    let latest = nth_run(h.state(), 0).latest().unwrap();
    let saved = checkpoint::load(&file, &cpu()).unwrap();
    assert_eq!(saved.meta.step, latest.step);
    assert_eq!(
        param_values(&saved.model),
        param_values(&latest.model),
        "the autosave does not hold the run's newest weights"
    );
    // Unchanged weights are not written again.
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let (again, _) = saver.save(Some(autosave.path()), &h.state().runs);
    assert_eq!(again, session);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );

    // The next start reopens the saved workspace instead of starting a new run.
    let mut next = harness(AppOptions {
        workspace: Some(Workspace {
            session: session.clone(),
            ..Workspace::default()
        }),
        ..options(500, 32, 1000)
    });
    run_until(&mut next, 60, "the workspace reopened", |a| {
        a.runs.len() == 1 && nth_run(a, 0).latest().is_some()
    });
    quiesce(&mut next);
    assert_eq!(next.state().runs.len(), 1, "a new run was started as well");
    let run = nth_run(next.state(), 0);
    assert!(
        matches!(&run.source, RunSource::Loaded { path, .. } if *path == file),
        "{}",
        run.source.kind()
    );
    assert_eq!(run.name, "VAE", "the run reopens under its own name");
    assert_eq!(run.latest().unwrap().step, latest.step);

    // A run closed for good (here: a saver that no longer sees it; in the app, once the
    // removal's Undo lapses) has its autosave deleted at the next save.
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Remove));
    run_until(&mut h, 30, "the run removed", |a| a.runs.is_empty());
    let (empty, _) = saver.save(Some(autosave.path()), &h.state().runs);
    assert!(empty.is_empty());
    assert!(!file.exists(), "a closed run's autosave was kept");
}

/// The app autosaving into `dir`, with removals undoable for `undo` seconds.
fn autosaving(dir: &Path, undo: f64) -> AppOptions {
    AppOptions {
        autosave_dir: Some(dir.to_path_buf()),
        undo_window: Some(Duration::from_secs_f64(undo)),
        ..options(500, 32, 1000)
    }
}

/// Autosave now and wait until the writer thread has written the training run's file.
fn autosaved(h: &mut Harness<'_, ExplorerApp>) -> PathBuf {
    h.state_mut().autosave_now();
    let file = h.state().persisted.workspace.session[0].path.clone();
    run_until(h, 60, "the autosave written", |a| {
        a.io_in_flight() == 0 && file.exists()
    });
    file
}

/// Removing a run trained here keeps it restorable: Undo brings it back with its history
/// and its autosave still on disk, training again; once the Undo lapses the run is gone and
/// its autosave (its only copy) deleted, as the Remove button's hover says. A run opened
/// from a file elsewhere goes at once and its file stays.
#[test]
fn a_removed_run_comes_back_with_undo_and_its_autosave_goes_only_when_the_undo_lapses() {
    let autosave = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let undo = 4.0;
    let mut opts = autosaving(autosave.path(), undo);
    let (loaded, _, _) = trained_checkpoint(elsewhere.path(), 1);
    opts.open = vec![loaded.clone()];
    opts.autostart = false;
    opts.train = vec![latent_explorer::variant::VariantKind::Vae];
    let mut h = harness(opts);
    let training = |a: &ExplorerApp| {
        a.runs
            .iter()
            .find(|r| matches!(r.source, RunSource::Training(_)))
            .map(|r| r.id)
    };
    run_until(&mut h, 60, "a training run and the loaded one", |a| {
        a.runs.len() == 2
            && a.runs
                .iter()
                .any(|r| matches!(r.source, RunSource::Training(_)) && r.status.step >= 5)
    });
    let id = training(h.state()).unwrap();
    let file = autosaved(&mut h);
    assert!(file.starts_with(autosave.path()), "{}", file.display());

    // The hover says what Remove does to each run.
    let hover = |h: &Harness<'_, ExplorerApp>| {
        h.query_all_by_label("Remove")
            .map(|n| n.accesskit_node().description().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let hovers = hover(&h);
    assert_eq!(hovers.len(), 2, "{hovers:?}");
    assert!(
        hovers.iter().any(|d| d.contains("Undo")
            && d.contains(&format!("{undo} s"))
            && d.contains("autosave is deleted")),
        "{hovers:?}"
    );
    assert!(
        hovers
            .iter()
            .any(|d| d.contains("Nothing on disk is deleted")),
        "{hovers:?}"
    );

    let before = h.state().runs.get(id).unwrap().history.steps.len();
    assert!(before > 0, "no history to keep");
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Remove));
    h.step();
    h.step();
    assert!(h.state().runs.get(id).is_none(), "the run is still listed");
    assert!(file.exists(), "the autosave went at once");
    // The bar with Undo shows, explained like every control.
    h.get_by_label_contains("Removed run");
    let missing = crate::help::undescribed(&h);
    assert!(missing.is_empty(), "without hover help: {missing:?}");
    let img = h.render().expect("render");
    if let Some(dir) = std::env::var_os("LATENT_EXPLORER_SCREENSHOTS") {
        // To look at the bar: LATENT_EXPLORER_SCREENSHOTS=DIR scripts/test a_removed_run
        img.save(Path::new(&dir).join("undo-bar.png")).unwrap();
    }
    h.get_by_label("Undo").click();
    run_until(&mut h, 10, "the run back", |a| a.runs.get(id).is_some());
    assert!(h.state().runs.removed.is_none());
    let back = h.state().runs.get(id).unwrap();
    assert!(matches!(back.source, RunSource::Training(_)));
    assert!(
        back.history.steps.len() >= before,
        "history {} steps, had {before}",
        back.history.steps.len()
    );
    let step = back.status.step;
    run_until(&mut h, 60, "training again", |a| {
        a.runs.get(id).is_some_and(|r| r.status.step > step)
    });
    assert!(
        file.exists(),
        "the autosave of a run brought back was deleted"
    );

    // Removed again and left: the Undo lapses, then the autosave (its directory) goes.
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Remove));
    h.step();
    let removed = Instant::now();
    run_until(&mut h, 30, "the undo to lapse", |a| {
        a.runs.removed.is_none()
    });
    assert!(
        removed.elapsed() >= Duration::from_secs_f64(undo * 0.9),
        "the undo lapsed after {:?}",
        removed.elapsed()
    );
    run_until(&mut h, 30, "the autosave deleted", |a| {
        a.io_in_flight() == 0 && !file.exists()
    });
    assert!(
        !file.parent().unwrap().exists(),
        "the run's autosave directory stayed"
    );
    assert!(
        autosave.path().exists(),
        "the autosave directory itself was deleted"
    );

    // The loaded run: removed at once (no Undo), its file untouched.
    let other = run_id(h.state(), 0);
    h.state_mut()
        .push_command(UiCommand::Run(other, RunAction::Remove));
    h.step();
    assert!(h.state().runs.is_empty());
    assert!(
        h.state().runs.removed.is_none(),
        "Undo offered for a file on disk"
    );
    assert!(loaded.exists(), "the opened file was deleted");
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
}

/// Autosaves and saves are written by the writer thread, not in the frame: while the
/// writer is stuck on a file (a FIFO in the place of the autosave's temporary file, which
/// blocks until read), frames go on at their usual pace and training goes on; the save
/// asked for meanwhile waits its turn. Unblocked, the stuck write's error comes back
/// through the app's errors naming the file, and the save is written. At exit the app
/// waits for writes asked for: none is lost.
#[test]
fn autosaves_and_saves_are_written_off_the_frame_and_waited_for_at_exit() {
    use std::io::Read;
    let autosave = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut h = harness(autosaving(autosave.path(), 10.0));
    run_until(&mut h, 60, "training", |a| {
        a.runs.len() == 1 && nth_run(a, 0).status.step >= 3
    });
    let id = run_id(h.state(), 0);
    let file = autosaved(&mut h);
    // The next write of the autosave opens this and waits for a reader.
    let fifo = latent_explorer::atomic::temp_path(&file);
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let written = nth_run(h.state(), 0).status.step;
    run_until(&mut h, 60, "newer weights", |a| {
        nth_run(a, 0).latest().is_some_and(|s| s.step > written)
    });
    h.state_mut().autosave_now();
    let saved = out.path().join("saved.safetensors");
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Save(Some(saved.clone()))));
    let step = nth_run(h.state(), 0).status.step;
    let mut slowest = Duration::ZERO;
    let start = Instant::now();
    let mut frames = 0;
    while start.elapsed() < Duration::from_secs(3) || frames < 10 {
        let t = Instant::now();
        h.step();
        slowest = slowest.max(t.elapsed());
        frames += 1;
        assert!(
            h.state().io_in_flight() >= 2,
            "the blocked autosave or the save is no longer waiting"
        );
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a frame took {slowest:?} while the writer was blocked"
    );
    assert!(!saved.exists(), "the save overtook the autosave before it");
    assert!(
        nth_run(h.state(), 0).status.step > step,
        "training stopped while the writer was blocked"
    );
    // Read the FIFO: the stuck write goes through it and fails (a FIFO cannot be synced);
    // its error comes back naming the file, and the save after it is written.
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::fs::File::open(&fifo)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map(|_| bytes.len())
    });
    run_until(&mut h, 60, "the writes done", |a| a.io_in_flight() == 0);
    assert!(
        reader.join().unwrap().unwrap() > 0,
        "nothing was written to the FIFO"
    );
    let errors = &h.state().errors;
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("autosaving the run failed") && e.contains(&name)),
        "no error naming {name}: {errors:?}"
    );
    assert!(
        saved.exists(),
        "the save queued behind the autosave was lost"
    );
    // At exit: a save asked for on the last frame is written before the app lets go.
    let last = out.path().join("last.safetensors");
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Save(Some(last.clone()))));
    h.step();
    h.state_mut().finish_writes();
    assert!(last.exists(), "a save asked for before exit was lost");
    checkpoint::load(&last, &cpu()).expect("the last save is a whole checkpoint");
}

/// Two apps in one process, one sharing the CPU at lowered priority and one not: each app's
/// training threads (its workers' own threads, compute pools and lanes) take its own policy,
/// whichever app started first; the app changes no thread of the process but its workers'.
#[test]
fn each_apps_training_threads_take_its_own_sharing_policy() {
    use crate::rundir::assert_threads_scheduled;
    let app = |sharing: SharingPolicy| {
        let mut opts = options(500, 64, 1000);
        opts.sharing = Some(sharing);
        harness(opts)
    };
    // The unlowered app starts first: before, the first app to start decided for both.
    let mut free = app(SharingPolicy::Free);
    let mut low = app(SharingPolicy::LowPriority);
    for h in [&mut free, &mut low] {
        run_until(h, 60, "training", |a| {
            a.runs.len() == 1 && nth_run(a, 0).status.step >= 3
        });
    }
    let threads = |h: &Harness<'_, ExplorerApp>| match &nth_run(h.state(), 0).source {
        RunSource::Training(w) => w.training_threads(),
        other => panic!("not a training run: {}", other.kind()),
    };
    let (free_ids, low_ids) = (threads(&free), threads(&low));
    let lanes = latent_explorer::cpu::lanes::count();
    for (ids, what) in [(&free_ids, "Free"), (&low_ids, "LowPriority")] {
        assert_eq!(
            ids.len(),
            1 + 2 * lanes,
            "{what} app: training threads {ids:?}"
        );
    }
    assert_threads_scheduled(&free_ids, false, "the Free app's training");
    assert_threads_scheduled(&low_ids, true, "the LowPriority app's training");
    // This test's own thread (the UI thread of both apps) was not lowered.
    assert_threads_scheduled(
        &[latent_explorer::cpu::priority::thread_id()],
        false,
        "the apps' UI thread",
    );
}
