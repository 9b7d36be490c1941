//! A run directory's metrics taken out of the product: a CSV table for spreadsheets, and
//! TensorBoard event files that TensorBoard (or anything reading its format) opens.
//!
//! Both are made from the same scalars ([`scalars`]): per step `train/<term>` (the loss,
//! the variant's terms, `grad_norm`), `train/kl_weight` and `train/lr`; per epoch
//! `test/<figure>` (−ELBO, reconstruction, KL, active units, MSE, the IWAE NLL when
//! computed, structure-specific figures) and `train/samples_per_sec`; after the final
//! evaluation `final/<figure>`. A `resumed` record drops the step and epoch scalars after its
//! step, as the app's curves do: they are replaced by what follows.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::rundir::{METRICS_FILE, Record, RunDirReader};
use crate::train::LossHistory;
use crate::train::metrics::EvalMetrics;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsFormat {
    /// One CSV file: a row per step and per epoch, a column per scalar.
    Csv,
    /// A directory holding one TensorBoard event file.
    Tensorboard,
}

/// One value of one scalar series.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// What the row was: `step`, `epoch` or `final`.
    pub kind: &'static str,
    /// Epoch (0-based for steps, epochs completed for epochs and the final evaluation).
    pub epoch: usize,
    /// Global step (0-based for steps; steps taken for epochs).
    pub step: u64,
    /// The series, e.g. `train/loss`, `test/neg_elbo`.
    pub tag: String,
    /// Its value.
    pub value: f64,
}

/// Why the metrics could not be exported; each names the file.
#[derive(Debug, Error)]
pub enum MetricsOutError {
    /// The metrics file has a line that is no record (`why` names the file and line).
    #[error("{why}")]
    Read {
        /// The metrics file.
        path: PathBuf,
        /// What is wrong, and on which line.
        why: String,
    },
    /// The directory holds no metrics.
    #[error("{0}: no {METRICS_FILE} with a start record: not a run directory")]
    NoRun(PathBuf),
    /// Writing failed.
    #[error("writing {path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
}

/// The test figures of an evaluation as `(name, value)`, in a fixed order.
fn figures(m: &EvalMetrics) -> Vec<(String, f64)> {
    let mut out = vec![
        ("neg_elbo".to_string(), m.neg_elbo),
        ("rec".into(), m.rec),
        ("kl".into(), m.kl),
        ("active_units".into(), m.active_units as f64),
        ("mse".into(), m.mse),
    ];
    if let Some(nll) = m.iwae_nll {
        out.push(("iwae_nll".into(), nll));
    }
    out.extend(m.extra.iter().cloned());
    out
}

/// The scalars of a run's records, in the order they were recorded, after applying each
/// `resumed` record.
pub fn scalars(records: &[Record]) -> Vec<Scalar> {
    let mut out: Vec<Scalar> = Vec::new();
    for rec in records {
        match rec {
            Record::Step(m) => {
                let row = |tag: String, value: f64| Scalar {
                    kind: "step",
                    epoch: m.epoch,
                    step: m.step,
                    tag,
                    value,
                };
                out.extend(m.terms.iter().map(|(n, v)| row(format!("train/{n}"), *v)));
                out.push(row("train/kl_weight".into(), m.kl_weight));
                out.push(row("train/lr".into(), m.lr));
            }
            Record::Epoch {
                epoch,
                step,
                metrics,
                samples_per_sec,
                ..
            } => {
                let row = |tag: String, value: f64| Scalar {
                    kind: "epoch",
                    epoch: *epoch,
                    step: *step,
                    tag,
                    value,
                };
                out.extend(
                    figures(metrics)
                        .into_iter()
                        .map(|(n, v)| row(format!("test/{n}"), v)),
                );
                out.push(row("train/samples_per_sec".into(), *samples_per_sec));
            }
            Record::Final {
                epoch,
                step,
                metrics,
                ..
            } => out.extend(figures(metrics).into_iter().map(|(n, v)| Scalar {
                kind: "final",
                epoch: *epoch,
                step: *step,
                tag: format!("final/{n}"),
                value: v,
            })),
            Record::Resumed { step, .. } => {
                // Step records are numbered from 0 (the step just taken); an epoch's record
                // carries the steps taken, so an epoch ending at the resumed point stays.
                out.retain(|s| match s.kind {
                    "step" => s.step < *step,
                    "epoch" => s.step <= *step,
                    _ => true,
                });
            }
            Record::Start { .. } | Record::End { .. } => {}
        }
    }
    out
}

/// Every record of `dir`'s metrics file; a bad line is an error naming it.
pub fn read_records(dir: &Path) -> Result<Vec<Record>, MetricsOutError> {
    let path = dir.join(METRICS_FILE);
    let mut reader = RunDirReader::new(dir);
    let records = reader
        .poll()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| MetricsOutError::Read {
            path: path.clone(),
            why,
        })?;
    if !matches!(records.first(), Some(Record::Start { .. })) {
        return Err(MetricsOutError::NoRun(dir.to_path_buf()));
    }
    Ok(records)
}

/// The scalars as CSV: `kind,epoch,step`, then one column per series in the order the
/// series first appear; a row per step, per epoch and for the final evaluation, a value
/// left empty where the row has none. Values are written so that they parse back to the
/// same `f64`.
pub fn csv(scalars: &[Scalar]) -> String {
    use std::fmt::Write as _;
    let mut tags: Vec<&str> = Vec::new();
    for s in scalars {
        if !tags.contains(&s.tag.as_str()) {
            tags.push(&s.tag);
        }
    }
    let mut out = String::from("kind,epoch,step");
    for t in &tags {
        out.push(',');
        out.push_str(t);
    }
    out.push('\n');
    for row in rows(scalars) {
        let first = &row[0];
        // Writing into a String cannot fail.
        let _ = write!(out, "{},{},{}", first.kind, first.epoch, first.step);
        for t in &tags {
            out.push(',');
            if let Some(s) = row.iter().find(|s| s.tag == *t) {
                let _ = write!(out, "{}", s.value);
            }
        }
        out.push('\n');
    }
    out
}

/// The scalars in rows: each run of one record's values (a step, an epoch, the final
/// evaluation), never empty.
fn rows(scalars: &[Scalar]) -> impl Iterator<Item = &[Scalar]> {
    scalars.chunk_by(|a, b| a.kind == b.kind && a.step == b.step && a.epoch == b.epoch)
}

/// The masked CRC-32C of TFRecord framing.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// `data` framed as one TFRecord: length, its masked CRC, the data, its masked CRC.
fn tfrecord(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited protobuf field.
fn bytes_field(field: u32, data: &[u8], out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | 2), out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// A TensorFlow `Event` protobuf: wall time (field 1), step (2), and either the file
/// version (3) or a summary (5) of simple scalar values (`Summary.Value` tag 1,
/// simple_value 2).
fn event(wall_time: f64, step: u64, file_version: Option<&str>, values: &[(&str, f32)]) -> Vec<u8> {
    let mut e = Vec::new();
    e.push(1 << 3 | 1);
    e.extend_from_slice(&wall_time.to_le_bytes());
    e.push(2 << 3);
    varint(step, &mut e);
    if let Some(v) = file_version {
        bytes_field(3, v.as_bytes(), &mut e);
    }
    if !values.is_empty() {
        let mut summary = Vec::new();
        for (tag, v) in values {
            let mut value = Vec::new();
            bytes_field(1, tag.as_bytes(), &mut value);
            value.push(2 << 3 | 5);
            value.extend_from_slice(&v.to_le_bytes());
            bytes_field(1, &value, &mut summary);
        }
        bytes_field(5, &summary, &mut e);
    }
    e
}

/// The scalars as a TensorBoard event file's bytes: the file-version event, then one event
/// per row (a step, an epoch, the final evaluation) holding its values, at `wall_time`
/// (seconds since the Unix epoch). TensorBoard stores scalars as 32-bit floats.
pub fn tensorboard_events(scalars: &[Scalar], wall_time: f64) -> Vec<u8> {
    let mut out = Vec::new();
    tfrecord(&event(wall_time, 0, Some("brain.Event:2"), &[]), &mut out);
    for row in rows(scalars) {
        let values: Vec<(&str, f32)> = row
            .iter()
            .map(|s| (s.tag.as_str(), s.value as f32))
            .collect();
        tfrecord(&event(wall_time, row[0].step, None, &values), &mut out);
    }
    out
}

/// Export `dir`'s metrics as `format` to `out` (CSV: a file, default `DIR/metrics.csv`;
/// TensorBoard: a directory, default `DIR/tensorboard/`, holding
/// `events.out.tfevents.SECONDS.HOST`), written atomically. Returns the file written and the
/// scalars' count.
pub fn export(
    dir: &Path,
    format: MetricsFormat,
    out: Option<&Path>,
) -> Result<(PathBuf, usize), MetricsOutError> {
    let records = read_records(dir)?;
    let scalars = scalars(&records);
    let out = match (out, format) {
        (Some(out), _) => out.to_path_buf(),
        (None, MetricsFormat::Csv) => dir.join("metrics.csv"),
        (None, MetricsFormat::Tensorboard) => dir.join("tensorboard"),
    };
    Ok((write(&scalars, format, &out)?, scalars.len()))
}

/// The scalars of a loss history (a run trained in the app, or the curves a checkpoint
/// carries), named as [`scalars`] names a run directory's: per step `train/loss`,
/// `train/rec`, `train/kl` (where the objective has the term) and `train/kl_weight`; per
/// epoch `test/<figure>`. A history keeps fewer step points than a run directory's
/// metrics file (its older half is thinned as it grows), and no learning rate, speed or
/// final evaluation apart from the epochs'.
pub fn history_scalars(h: &LossHistory) -> Vec<Scalar> {
    let mut out = Vec::new();
    let weights: std::collections::HashMap<u64, f64> =
        h.kl_weight.iter().map(|&[s, w]| (s as u64, w)).collect();
    for &[step, loss, rec, kl] in &h.steps {
        let step = step as u64;
        // The epoch a step belongs to: the number of evaluations before it.
        let epoch = h.epochs.iter().take_while(|(_, s, _)| *s <= step).count();
        let row = |tag: &str, value: f64| Scalar {
            kind: "step",
            epoch,
            step,
            tag: tag.to_string(),
            value,
        };
        for (tag, v) in [("train/loss", loss), ("train/rec", rec), ("train/kl", kl)] {
            if v.is_finite() {
                out.push(row(tag, v));
            }
        }
        if let Some(&w) = weights.get(&step) {
            out.push(row("train/kl_weight", w));
        }
    }
    for (epoch, step, metrics) in &h.epochs {
        out.extend(figures(metrics).into_iter().map(|(n, v)| Scalar {
            kind: "epoch",
            epoch: *epoch,
            step: *step,
            tag: format!("test/{n}"),
            value: v,
        }));
    }
    // One timeline, as a run directory's records are: by step, an epoch's evaluation (its
    // step: the steps taken) before the step of that index (the next epoch's first).
    out.sort_by_key(|s| (s.step, s.kind == "step"));
    out
}

/// Write `scalars` as `format` to `out`, atomically: CSV to the file `out`; TensorBoard
/// as `events.out.tfevents.SECONDS.HOST` in the directory `out`. Returns the file written.
pub fn write(
    scalars: &[Scalar],
    format: MetricsFormat,
    out: &Path,
) -> Result<PathBuf, MetricsOutError> {
    let write = |path: &Path, bytes: &[u8]| {
        crate::atomic::atomic_write(path, |f| f.write_all(bytes)).map_err(|error| {
            MetricsOutError::Write {
                path: path.to_path_buf(),
                error,
            }
        })
    };
    match format {
        MetricsFormat::Csv => {
            write(out, csv(scalars).as_bytes())?;
            Ok(out.to_path_buf())
        }
        MetricsFormat::Tensorboard => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let path = out.join(format!(
                "events.out.tfevents.{}.{}",
                now as u64,
                crate::atomic::host_name()
            ));
            write(&path, &tensorboard_events(scalars, now))?;
            Ok(path)
        }
    }
}
