//! [`LossHistory`]: a run's loss curves as the app draws them and a checkpoint carries them
//! (thinned to a bounded size), so a loaded run shows its curves.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::metrics::EvalMetrics;
use super::step::StepMetrics;

/// Most step points a checkpoint carries ([`LossHistory::thinned`]).
pub const SAVED_STEP_POINTS: usize = 2_000;

/// Most step points kept in memory while training; beyond it the older half is thinned.
pub const MAX_STEP_POINTS: usize = 40_000;

/// Loss curves: per step the optimised loss and its terms, per epoch the test metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LossHistory {
    /// Per step: `[step, loss, rec, kl]` (NaN where the objective has no such term; `null`
    /// in JSON).
    #[serde(serialize_with = "rows_out", deserialize_with = "rows_in")]
    pub steps: Vec<[f64; 4]>,
    /// Per step: `[step, KL weight]`.
    #[serde(serialize_with = "rows_out", deserialize_with = "rows_in")]
    pub kl_weight: Vec<[f64; 2]>,
    /// Per epoch: `(epochs completed, step, test metrics)`.
    pub epochs: Vec<(usize, u64, EvalMetrics)>,
}

/// Rows of numbers with NaN written as `null` (JSON has no NaN).
fn rows_out<S: Serializer, const N: usize>(rows: &[[f64; N]], s: S) -> Result<S::Ok, S::Error> {
    let rows: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|r| r.iter().map(|x| x.is_finite().then_some(*x)).collect())
        .collect();
    rows.serialize(s)
}

/// The rows [`rows_out`] wrote (`null` read as NaN).
fn rows_in<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<Vec<[f64; N]>, D::Error> {
    let rows: Vec<Vec<Option<f64>>> = Vec::deserialize(d)?;
    rows.into_iter()
        .map(|r| {
            let len = r.len();
            let v: Vec<f64> = r.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect();
            v.try_into()
                .map_err(|_| D::Error::custom(format!("a row of {len} numbers, {N} expected")))
        })
        .collect()
}

/// Drop every other point of the older half of a series (the newer half stays whole).
pub fn thin_older_half<T: Copy>(v: &mut Vec<T>) {
    let half = v.len() / 2;
    let mut out: Vec<T> = v[..half].iter().step_by(2).copied().collect();
    out.extend_from_slice(&v[half..]);
    *v = out;
}

impl LossHistory {
    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.epochs.is_empty()
    }

    /// Record a step (the older half thinned beyond [`MAX_STEP_POINTS`]).
    pub fn push_step(&mut self, m: &StepMetrics) {
        let get = |n: &str| m.get(n).unwrap_or(f64::NAN);
        let s = m.step as f64;
        self.steps.push([s, get("loss"), get("rec"), get("kl")]);
        self.kl_weight.push([s, m.kl_weight]);
        if self.steps.len() > MAX_STEP_POINTS {
            thin_older_half(&mut self.steps);
        }
        if self.kl_weight.len() > MAX_STEP_POINTS {
            thin_older_half(&mut self.kl_weight);
        }
    }

    /// Record an epoch's test metrics; a new evaluation of the same weights (a final
    /// evaluation) replaces the earlier one.
    pub fn push_epoch(&mut self, epoch: usize, step: u64, metrics: EvalMetrics) {
        match self.epochs.last_mut() {
            Some(last) if last.0 == epoch && last.1 == step => *last = (epoch, step, metrics),
            _ => self.epochs.push((epoch, step, metrics)),
        }
    }

    /// Forget the steps after `step` and the epochs after `epoch` (a run resumed from an
    /// earlier point than its history reaches).
    pub fn truncate(&mut self, epoch: usize, step: u64) {
        self.steps.retain(|p| p[0] < step as f64);
        self.kl_weight.retain(|p| p[0] < step as f64);
        self.epochs.retain(|e| e.0 <= epoch);
    }

    /// A copy with at most [`SAVED_STEP_POINTS`] step points, evenly spaced over the run
    /// (the last point kept), and every epoch.
    pub fn thinned(&self) -> Self {
        fn even<T: Copy>(v: &[T], max: usize) -> Vec<T> {
            if v.len() <= max {
                return v.to_vec();
            }
            // Points 0, s, 2s, … and the last: at most `max` with s = ⌈(n−1)/(max−1)⌉.
            let stride = (v.len() - 1).div_ceil(max.saturating_sub(1).max(1));
            let mut out: Vec<T> = v.iter().step_by(stride).copied().collect();
            if !(v.len() - 1).is_multiple_of(stride)
                && let Some(&last) = v.last()
            {
                out.push(last);
            }
            out
        }
        Self {
            steps: even(&self.steps, SAVED_STEP_POINTS),
            kl_weight: even(&self.kl_weight, SAVED_STEP_POINTS),
            epochs: self.epochs.clone(),
        }
    }
}
