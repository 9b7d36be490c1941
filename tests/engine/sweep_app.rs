//! The app following a sweep directory: its runs added grouped by configuration, a planned
//! run appearing when it starts, only the shown runs decoded and their weights loaded,
//! finished runs no longer polled; seeds collapsed into one metrics row per configuration
//! (mean ± sd equal to `compare::mean_sd` of the runs' own figures) and curves drawn as a
//! configuration's mean in a band; hover help on every widget a sweep brings.

use std::path::Path;
use std::sync::Arc;

use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latent_explorer::checkpoint::DatasetInfo;
use latent_explorer::compare::mean_sd;
use latent_explorer::data::Dataset;
use latent_explorer::rundir::RunDirWriter;
use latent_explorer::sweep::plan::write_plan;
use latent_explorer::sweep::{Plan, SweepSpec};
use latent_explorer::train::{Policy, TrainLoop, Trainer, WorkerState};
use latent_explorer::ui::run::{Run, RunSource};
use latent_explorer::ui::seeds;
use latent_explorer::ui::settings::{CurveTerm, Layout};
use latent_explorer::ui::sweeps::{FollowedSweep, group_colour};
use latent_explorer::ui::{ExplorerApp, RunAction, UiCommand};

use crate::app::{harness, options, quiesce, run_until};
use crate::common::{cpu, small};
use crate::help::{redraw, undescribed};

/// 2 variants × 3 seeds, a budget of a fraction of a second a run.
const SPEC: &str = r#"
[base]
epochs = 1
hidden = [16]
latent = 2
batch = 64
final_iwae_k = 0

[axes]
variant = ["vae", "beta-vae"]
seed = [0, 1, 2]
"#;

/// The data the runs train on and the app shows them with.
fn data() -> Arc<Dataset> {
    small(512, 300)
}

/// Plan [`SPEC`] into `dir`.
fn plan(dir: &Path) -> Plan {
    let runs = SweepSpec::from_toml(SPEC).unwrap().expand().unwrap();
    write_plan(dir, SPEC, &runs).unwrap();
    Plan::read(dir).unwrap()
}

/// Start run `name` of `plan`: its directory gets its `start` record.
fn start(plan: &Plan, name: &str, data: &Arc<Dataset>) -> (Trainer, RunDirWriter) {
    let cfg = plan.config(name).unwrap();
    let trainer = Trainer::new(cfg.run.train_config(data), data.clone(), &cpu()).unwrap();
    let writer = RunDirWriter::create(
        &plan.run_dir(name),
        trainer.config(),
        DatasetInfo::of(data),
        Some(&cfg),
    )
    .unwrap();
    (trainer, writer)
}

/// Train a started run to its end, as `train --run-dir` does.
fn finish(trainer: Trainer, writer: RunDirWriter) {
    let mut run = TrainLoop::new(trainer, Policy::default()).with_sink(writer);
    run.run().unwrap();
}

fn train(plan: &Plan, name: &str, data: &Arc<Dataset>) {
    let (t, w) = start(plan, name, data);
    finish(t, w);
}

/// The app following `dir`, training nothing itself.
fn follow(dir: &Path) -> Harness<'static, ExplorerApp> {
    let mut opts = options(512, 64, 1);
    opts.autostart = false;
    opts.file_dialogs = false;
    opts.follow = vec![dir.to_path_buf()];
    harness(opts)
}

fn sweep(app: &ExplorerApp) -> &FollowedSweep {
    app.runs.sweeps.first().expect("a followed sweep")
}

fn run_named<'a>(app: &'a ExplorerApp, name: &str) -> &'a Run {
    app.runs
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no run {name}"))
}

/// The sweep read (every started run in) with `n` runs in the workspace.
fn opened(h: &mut Harness<'_, ExplorerApp>, n: usize) {
    run_until(h, 120, "the sweep's runs", |a| {
        a.runs.sweeps.first().is_some_and(|s| s.opened_in.is_some())
            && a.runs.len() == n
            && a.runs
                .iter()
                .all(|r| r.status.state == WorkerState::Finished && r.history.epochs.len() == 1)
    });
}

#[test]
fn a_followed_sweep_adds_its_runs_grouped_and_a_planned_run_when_it_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let plan = plan(&dir);
    let data = data();
    for name in [
        "vae_seed0",
        "vae_seed1",
        "vae_seed2",
        "beta-vae_seed0",
        "beta-vae_seed1",
    ] {
        train(&plan, name, &data);
    }
    let mut h = follow(&dir);
    opened(&mut h, 5);

    // Two configurations of three seeds; the sixth run is planned, counted, not a run.
    let app = h.state();
    let s = sweep(app);
    let labels: Vec<&str> = s.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["vae", "beta-vae"]);
    assert!(s.groups.iter().all(|g| g.runs.len() == 3));
    assert_eq!((s.in_workspace(), s.planned()), (5, 1));
    assert_eq!(s.group_planned(1), ["beta-vae_seed2"]);
    for run in app.runs.iter() {
        let m = run.sweep.expect("a sweep's run");
        let g = if run.name.starts_with("vae_") { 0 } else { 1 };
        assert_eq!(m.group, g, "{} in the wrong configuration", run.name);
        assert_eq!(run.colour, group_colour(g), "{}", run.name);
        assert_eq!(s.runs[m.index].entry.name, run.name);
    }
    h.get_by_label("Sweep sweep · 6 runs");
    h.get_by_label("vae · 3 runs: 3 in, 0 planned");
    h.get_by_label("beta-vae · 3 runs: 2 in, 1 planned");
    // The finished runs' files are no longer read; the planned one is looked at.
    assert_eq!(sweep(h.state()).follower.polled(), 1);

    // Only the first run of each configuration is shown: only those decode, and only their
    // weights are loaded.
    quiesce(&mut h);
    run_until(&mut h, 60, "the shown runs' views", |a| {
        a.runs
            .iter()
            .filter(|r| a.runs.shows_views(r))
            .all(|r| r.views.stats.is_some())
    });
    let app = h.state();
    let shown: Vec<&str> = app
        .runs
        .iter()
        .filter(|r| app.runs.shows_views(r))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(shown, ["vae_seed0", "beta-vae_seed0"]);
    for run in app.runs.iter() {
        if app.runs.shows_views(run) {
            assert!(
                run.decoder.started() && run.latest().is_some(),
                "{}",
                run.name
            );
            assert_eq!(run.epochs.epochs(), [1], "{}", run.name);
        } else {
            assert!(!run.decoder.started(), "{} decodes unshown", run.name);
            assert!(run.latest().is_none(), "{} holds weights unshown", run.name);
            assert!(run.epochs.epochs().is_empty(), "{}", run.name);
        }
    }

    // Shown on request: its weights arrive and its views are decoded; hidden again, its
    // weights, epochs and images go.
    let id = run_named(h.state(), "vae_seed1").id;
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::ShowViews(true)));
    run_until(&mut h, 60, "vae_seed1's weights and views", |a| {
        let r = a.runs.get(id).unwrap();
        r.latest().is_some() && r.views.stats.is_some()
    });
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::ShowViews(false)));
    run_until(&mut h, 30, "vae_seed1's weights given back", |a| {
        let r = a.runs.get(id).unwrap();
        r.latest().is_none() && r.epochs.epochs().is_empty() && r.views.stats.is_none()
    });

    // The planned run starts: it appears at its first record, in its configuration, before
    // it has trained anything; then it finishes and is no longer polled.
    let (trainer, writer) = start(&plan, "beta-vae_seed2", &data);
    run_until(&mut h, 60, "the run that started", |a| a.runs.len() == 6);
    let app = h.state();
    let late = run_named(app, "beta-vae_seed2");
    assert_eq!(late.status.state, WorkerState::Running);
    assert!(late.history.epochs.is_empty());
    assert_eq!(late.sweep.map(|m| m.group), Some(1));
    assert_eq!(late.colour, group_colour(1));
    assert_eq!(sweep(app).planned(), 0);
    assert!(matches!(late.source, RunSource::Sweep { .. }));
    let late = late.id;
    finish(trainer, writer);
    run_until(&mut h, 60, "the late run's end", |a| {
        let r = a.runs.get(late).unwrap();
        r.status.state == WorkerState::Finished
            && r.history.epochs.len() == 1
            && a.runs.sweeps[0].follower.polled() == 0
    });
    h.get_by_label("beta-vae · 3 runs: 3 in, 0 planned");

    // Removing the sweep takes its runs out.
    let sid = sweep(h.state()).id;
    h.state_mut().push_command(UiCommand::RemoveSweep(sid));
    run_until(&mut h, 30, "the sweep removed", |a| {
        a.runs.is_empty() && a.runs.sweeps.is_empty()
    });
}

#[test]
fn seeds_collapse_into_one_metrics_row_and_one_curve_band_per_configuration() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let plan = plan(&dir);
    let data = data();
    for e in &plan.runs {
        train(&plan, &e.name, &data);
    }
    let mut h = follow(&dir);
    opened(&mut h, 6);
    redraw(&mut h);

    // Each configuration's row: mean ± sd of its runs' own test −ELBO (2 decimals) and
    // active units (0 decimals), over the 3 runs.
    let app = h.state();
    let mut expected = Vec::new();
    for conf in seeds::configurations(&app.runs) {
        assert_eq!(conf.runs.len(), 3, "{}", conf.label);
        let elbo: Vec<f64> = conf
            .runs
            .iter()
            .map(|r| r.last_metrics().unwrap().neg_elbo)
            .collect();
        let (mean, sd) = mean_sd(&elbo);
        assert!(sd > 0.0, "seeds gave the same figures: {elbo:?}");
        let st = seeds::stat(&conf.runs, |r| r.last_metrics().map(|m| m.neg_elbo)).unwrap();
        assert_eq!((st.mean, st.sd, st.n), (mean, sd, 3));
        expected.push(format!("{mean:.2} ± {sd:.2}"));
        let units: Vec<f64> = conf
            .runs
            .iter()
            .map(|r| r.last_metrics().unwrap().active_units as f64)
            .collect();
        let (mean, sd) = mean_sd(&units);
        expected.push(format!("{mean:.0} ± {sd:.0}"));
    }
    for text in &expected {
        assert!(
            !h.query_all_by_label(text).collect::<Vec<_>>().is_empty(),
            "no cell {text:?} in the grouped table"
        );
    }
    let names: Vec<String> = h.state().runs.iter().map(|r| r.name.clone()).collect();
    for name in &names {
        assert!(
            h.query_by_role_and_label(Role::RadioButton, name).is_none(),
            "{name} has a row of its own while grouped"
        );
    }

    // The toggle brings back one row per run.
    h.get_by_label("one row per configuration").click();
    redraw(&mut h);
    assert!(!h.state().persisted.view.group_seeds);
    for name in &names {
        h.get_by_role_and_label(Role::RadioButton, name);
    }
    assert!(
        h.query_all_by_label(&expected[0]).next().is_none(),
        "the grouped cell stays"
    );

    // Curves: one mean and band per configuration (their legend entries), or every run's.
    {
        let v = &mut h.state_mut().persisted.view;
        v.layout = Layout::Compare;
        v.curve_term = CurveTerm::Loss;
        v.smoothing = 0.0;
    }
    redraw(&mut h);
    for label in ["vae", "beta-vae"] {
        h.get_by_role_and_label(Role::CheckBox, label);
    }
    assert!(
        h.query_by_role_and_label(Role::CheckBox, "vae_seed0")
            .is_none()
    );
    h.get_by_label("seed mean ± sd").click();
    redraw(&mut h);
    assert!(!h.state().persisted.view.seed_bands);
    h.get_by_role_and_label(Role::CheckBox, "vae_seed0");
    assert!(
        h.query_by_role_and_label(Role::CheckBox, "beta-vae")
            .is_none()
    );

    // The band is each step's mean ± sd over the configuration's runs.
    let app = h.state();
    for conf in seeds::configurations(&app.runs) {
        let curves: Vec<Vec<[f64; 2]>> = conf
            .runs
            .iter()
            .map(|r| r.history.steps.iter().map(|s| [s[0], s[1]]).collect())
            .collect();
        let band = seeds::band(&curves);
        assert_eq!(band.x.len(), curves[0].len());
        assert!(!band.x.is_empty());
        for (k, &x) in band.x.iter().enumerate() {
            let ys: Vec<f64> = curves.iter().map(|c| c[k][1]).collect();
            let (mean, sd) = mean_sd(&ys);
            assert_eq!(x, curves[0][k][0]);
            assert_eq!(
                (band.mean[k], band.lo[k], band.hi[k]),
                (mean, mean - sd, mean + sd)
            );
            assert_eq!(band.n[k], 3);
        }
    }
}

#[test]
fn a_curve_band_averages_each_point_over_the_runs_that_reached_it() {
    // Two runs at the same steps, one still short of the last; a third at other steps.
    let a = vec![[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]];
    let b = vec![[0.0, 3.0], [1.0, 4.0]];
    let band = seeds::band(&[a.clone(), b.clone()]);
    assert_eq!(band.x, [0.0, 1.0, 2.0]);
    assert_eq!(band.n, [2, 2, 1]);
    assert_eq!(band.mean, [2.0, 3.0, 3.0]);
    let (_, sd) = mean_sd(&[1.0, 3.0]);
    assert_eq!((band.lo[0], band.hi[0]), (2.0 - sd, 2.0 + sd));
    assert_eq!((band.lo[2], band.hi[2]), (3.0, 3.0));
    let c = vec![[0.5, 10.0], [1.0, 6.0]];
    let band = seeds::band(&[a, b, c]);
    assert_eq!(band.x, [0.0, 0.5, 1.0, 2.0]);
    assert_eq!(band.n, [2, 1, 3, 1]);
    assert_eq!(band.mean[2], 4.0);
    assert!(seeds::band(&[]).x.is_empty());
}

#[test]
fn every_widget_a_followed_sweep_brings_has_hover_help() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    let plan = plan(&dir);
    let data = data();
    for name in ["vae_seed0", "vae_seed1", "beta-vae_seed0"] {
        train(&plan, name, &data);
    }
    let mut h = follow(&dir);
    opened(&mut h, 3);
    // Open both configurations' sections so their runs' rows (and "views") are drawn.
    h.get_by_label("vae · 3 runs: 2 in, 1 planned").click();
    redraw(&mut h);
    h.get_by_label("beta-vae · 3 runs: 1 in, 2 planned").click();
    redraw(&mut h);
    h.get_by_label("Remove sweep");
    assert_eq!(
        h.query_all_by_role_and_label(Role::CheckBox, "views")
            .count(),
        3
    );
    let mut missing = Vec::new();
    for (grouped, bands) in [(true, true), (false, false)] {
        let v = &mut h.state_mut().persisted.view;
        v.group_seeds = grouped;
        v.seed_bands = bands;
        redraw(&mut h);
        missing.extend(
            undescribed(&h)
                .into_iter()
                .map(|m| format!("grouped {grouped}: {m}")),
        );
    }
    assert!(
        missing.is_empty(),
        "widgets without hover help:\n{}",
        missing.join("\n")
    );
}
