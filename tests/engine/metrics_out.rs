//! `export-metrics`: a run directory's metrics as CSV and as TensorBoard event files, the
//! latter read back by TensorBoard's own reader (`scripts/tb_read.py`, run with the Python
//! that `scripts/test` set up: LATENT_EXPLORER_TB_PYTHON).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use latent_explorer::checkpoint::DatasetInfo;
use latent_explorer::metrics_out::{csv, scalars};
use latent_explorer::rundir::Record;
use latent_explorer::train::{StepMetrics, TrainConfig};

use crate::explore_tools::{fixture, ok, s};

/// Every (tag → [(step, value)]) of a run directory's metrics file, read as plain JSON
/// here (not through the library's records): steps' terms, KL weight and learning rate;
/// epochs' test figures and speed; the final evaluation's figures.
fn series_from_jsonl(dir: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let mut out: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut put = |tag: String, step: u64, v: f64| out.entry(tag).or_default().push((step, v));
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let step = r["step"].as_u64().unwrap_or(0);
        let figures =
            |m: &serde_json::Value, prefix: &str, put: &mut dyn FnMut(String, u64, f64)| {
                for k in ["neg_elbo", "rec", "kl", "active_units", "mse", "iwae_nll"] {
                    if let Some(v) = m[k].as_f64() {
                        put(format!("{prefix}/{k}"), step, v);
                    }
                }
            };
        match r["type"].as_str().unwrap() {
            "step" => {
                for t in r["terms"].as_array().unwrap() {
                    let t = t.as_array().unwrap();
                    put(
                        format!("train/{}", t[0].as_str().unwrap()),
                        step,
                        t[1].as_f64().unwrap(),
                    );
                }
                put(
                    "train/kl_weight".into(),
                    step,
                    r["kl_weight"].as_f64().unwrap(),
                );
                put("train/lr".into(), step, r["lr"].as_f64().unwrap());
            }
            "epoch" => {
                figures(&r["metrics"], "test", &mut put);
                put(
                    "train/samples_per_sec".into(),
                    step,
                    r["samples_per_sec"].as_f64().unwrap(),
                );
            }
            "final" => figures(&r["metrics"], "final", &mut put),
            _ => {}
        }
    }
    out
}

/// A small run directory trained by the CLI: 2 epochs, with a final IWAE evaluation.
fn run_dir(root: &Path) -> std::path::PathBuf {
    let f = fixture();
    let dir = root.join("run");
    ok(&[
        "train",
        "--data",
        s(&f.data),
        "--epochs",
        "2",
        "--hidden",
        "32",
        "--latent",
        "4",
        "--final-iwae-k",
        "5",
        "--run-dir",
        s(&dir),
    ]);
    dir
}

/// What TensorBoard's own reader (`scripts/tb_read.py`, in the venv `scripts/test` makes)
/// reads from the event files of `logdir`: tag → [(step, value)].
fn tensorboard_read(logdir: &Path) -> BTreeMap<String, Vec<(u64, f64)>> {
    let python = std::env::var("LATENT_EXPLORER_TB_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/latent-explorer/tb-venv/bin/python")
    });
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tb_read.py");
    let out = Command::new(&python)
        .arg(&reader)
        .arg(logdir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{python}: {e} (scripts/test installs TensorBoard's reader; run it once)")
        });
    assert!(
        out.status.success(),
        "TensorBoard's reader failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<BTreeMap<String, Vec<(u64, f64)>>>(&out.stdout).unwrap()
}

#[test]
fn exported_csv_holds_every_recorded_value_in_its_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_dir(tmp.path());
    let out = tmp.path().join("m.csv");
    let said = ok(&["export-metrics", s(&dir), "--out", s(&out)]);
    let want = series_from_jsonl(&dir);
    let n: usize = want.values().map(Vec::len).sum();
    assert!(said.contains(&format!("{n} values")), "{said}");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..3], ["kind", "epoch", "step"]);
    let mut got: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{line}");
        *kinds.entry(cells[0].to_string()).or_insert(0) += 1;
        let step: u64 = cells[2].parse().unwrap();
        for (tag, cell) in header.iter().zip(&cells).skip(3) {
            if !cell.is_empty() {
                got.entry(tag.to_string())
                    .or_default()
                    .push((step, cell.parse().unwrap()));
            }
        }
    }
    // Every value as recorded, bit for bit, in its row; one row per step and per epoch.
    assert_eq!(got, want);
    let steps = want["train/loss"].len();
    assert_eq!(kinds.get("step"), Some(&steps));
    assert_eq!(kinds.get("epoch"), Some(&2));
    assert_eq!(kinds.get("final"), Some(&1));
}

#[test]
fn tensorboards_own_reader_reads_the_exported_events() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_dir(tmp.path());
    let logdir = tmp.path().join("tb");
    ok(&[
        "export-metrics",
        s(&dir),
        "--format",
        "tensorboard",
        "--out",
        s(&logdir),
    ]);
    let files: Vec<_> = std::fs::read_dir(&logdir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.len() == 1 && files[0].starts_with("events.out.tfevents."),
        "{files:?}"
    );
    let read = tensorboard_read(&logdir);
    // TensorBoard keeps 32-bit floats (and its Python reader hands them on as the double of
    // their shortest decimal): each value is the recorded one rounded to f32.
    type F32Series = BTreeMap<String, Vec<(u64, f32)>>;
    let f32s = |m: BTreeMap<String, Vec<(u64, f64)>>| -> F32Series {
        m.into_iter()
            .map(|(t, v)| (t, v.into_iter().map(|(s, x)| (s, x as f32)).collect()))
            .collect()
    };
    let (read, want) = (f32s(read), f32s(series_from_jsonl(&dir)));
    assert_eq!(
        read.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (tag, series) in &want {
        assert_eq!(&read[tag], series, "{tag}");
    }
}

#[test]
fn a_resumed_record_replaces_the_steps_after_it() {
    let step = |step: u64, loss: f64| {
        Record::Step(StepMetrics {
            step,
            epoch: 0,
            batch: 8,
            terms: vec![("loss".into(), loss)],
            kl_weight: 1.0,
            lr: 1e-3,
        })
    };
    let records = vec![
        Record::Start {
            format: "x".into(),
            config: TrainConfig::default(),
            dataset: DatasetInfo::of(&crate::common::small(16, 16)),
        },
        step(0, 10.0),
        step(1, 9.0),
        step(2, 8.0),
        step(3, 7.0),
        // Stopped after step 3 was recorded but resumed from the state after 2 steps.
        Record::Resumed {
            epoch: 0,
            step: 2,
            epochs: 1,
        },
        step(2, 8.5),
        step(3, 7.5),
    ];
    let losses: Vec<(u64, f64)> = scalars(&records)
        .into_iter()
        .filter(|s| s.tag == "train/loss")
        .map(|s| (s.step, s.value))
        .collect();
    assert_eq!(losses, vec![(0, 10.0), (1, 9.0), (2, 8.5), (3, 7.5)]);
    let table = csv(&scalars(&records));
    assert_eq!(table.lines().count(), 1 + 4, "{table}");
}

/// tag → [(step, value)] of scalars.
fn series(scalars: &[latent_explorer::metrics_out::Scalar]) -> BTreeMap<String, Vec<(u64, f64)>> {
    let mut out: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    for s in scalars {
        out.entry(s.tag.clone())
            .or_default()
            .push((s.step, s.value));
    }
    out
}

#[test]
fn a_loss_history_exports_what_its_run_directory_recorded() {
    use latent_explorer::metrics_out::{MetricsFormat, history_scalars, read_records, write};
    let tmp = tempfile::tempdir().unwrap();
    let dir = run_dir(tmp.path());
    // The history a checkpoint carries (the app's curves of a run trained or loaded there),
    // against the run directory's own metrics file, written as training went.
    let ckpt = latent_explorer::checkpoint::load(
        &dir.join("epoch-0002.safetensors"),
        &crate::common::cpu(),
    )
    .unwrap();
    let history = &ckpt.meta.history;
    assert!(
        history.steps.len() >= 4 && history.epochs.len() == 2,
        "{} steps, {} epochs",
        history.steps.len(),
        history.epochs.len()
    );
    let ours = series(&history_scalars(history));
    let recorded = series(&scalars(&read_records(&dir).unwrap()));
    let tags: Vec<&String> = ours.keys().collect();
    for tag in [
        "train/loss",
        "train/rec",
        "train/kl",
        "train/kl_weight",
        "test/neg_elbo",
        "test/kl",
    ] {
        assert!(ours.contains_key(tag), "no {tag} in {tags:?}");
    }
    for (tag, values) in &ours {
        assert_eq!(values, &recorded[tag], "{tag}");
    }
    // Every step row carries its epoch: the steps of epoch 1 come after epoch 0's evaluation.
    let rows = history_scalars(history);
    let first_of_epoch1 = history.epochs[0].1;
    for s in rows.iter().filter(|s| s.kind == "step") {
        assert_eq!(s.epoch, usize::from(s.step >= first_of_epoch1), "{s:?}");
    }
    // Written as TensorBoard events, TensorBoard's reader reads the same series (as f32).
    let logdir = tmp.path().join("tb");
    write(&rows, MetricsFormat::Tensorboard, &logdir).unwrap();
    let read = tensorboard_read(&logdir);
    assert_eq!(read.keys().collect::<Vec<_>>(), tags);
    for (tag, values) in &ours {
        let want: Vec<(u64, f32)> = values.iter().map(|&(s, v)| (s, v as f32)).collect();
        let got: Vec<(u64, f32)> = read[tag].iter().map(|&(s, v)| (s, v as f32)).collect();
        assert_eq!(got, want, "{tag}");
    }
    // And as CSV: one row per step kept and per epoch.
    let csv_path = tmp.path().join("h.csv");
    write(&rows, MetricsFormat::Csv, &csv_path).unwrap();
    let text = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("step,")).count(),
        history.steps.len()
    );
    assert_eq!(text.lines().filter(|l| l.starts_with("epoch,")).count(), 2);
}

#[test]
fn the_app_exports_the_metrics_of_a_run_trained_there() {
    use crate::app::{harness, nth_run, options, run_id, run_until};
    use latent_explorer::metrics_out::{csv, history_scalars};
    use latent_explorer::ui::{RunAction, UiCommand};
    let mut h = harness(options(600, 100, 2));
    run_until(&mut h, 120, "two epochs trained", |a| {
        a.runs.iter().next().is_some_and(|r| {
            r.status.state == latent_explorer::train::WorkerState::Finished
                && r.history.epochs.len() == 2
        })
    });
    let id = run_id(h.state(), 0);
    let out = tempfile::tempdir().unwrap();
    let errors = h.state().errors.len();
    h.state_mut().push_command(UiCommand::Run(
        id,
        RunAction::ExportMetrics(Some(out.path().to_path_buf())),
    ));
    let stem = nth_run(h.state(), 0).file_stem();
    let csv_path = out.path().join(format!("{stem}-metrics.csv"));
    run_until(&mut h, 30, "the metrics exported", |a| {
        a.io_in_flight() == 0 && csv_path.exists()
    });
    assert_eq!(h.state().errors.len(), errors, "{:?}", h.state().errors);
    let history = nth_run(h.state(), 0).history.clone();
    let text = std::fs::read_to_string(&csv_path).unwrap();
    // The run had finished before the export: the history is the one exported.
    assert_eq!(text, csv(&history_scalars(&history)));
    assert_eq!(text.lines().filter(|l| l.starts_with("epoch,")).count(), 2);
    let tb: Vec<_> = std::fs::read_dir(out.path().join(format!("{stem}-tensorboard")))
        .unwrap()
        .collect();
    assert_eq!(tb.len(), 1, "one event file");
}
