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
    let python = std::env::var("LATENT_EXPLORER_TB_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/latent-explorer/tb-venv/bin/python")
    });
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
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tb_read.py");
    let out = Command::new(&python)
        .arg(&reader)
        .arg(&logdir)
        .output()
        .unwrap_or_else(|e| {
            panic!("{python}: {e} (scripts/test installs TensorBoard's reader; run it once)")
        });
    assert!(
        out.status.success(),
        "TensorBoard's reader failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: BTreeMap<String, Vec<(u64, f64)>> =
        serde_json::from_slice::<BTreeMap<String, Vec<(u64, f64)>>>(&out.stdout).unwrap();
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
