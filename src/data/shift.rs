//! Shifted test sets for anomaly detection, built from the data itself: inverted,
//! rotated, noisy images, or one class held out (for a model trained without it).

use std::fmt;
use std::str::FromStr;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::{Dataset, Pixels, Split};

/// How the shifted set is made from the test split.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum Shift {
    /// `1 − x`: white background, black strokes.
    #[default]
    Invert,
    /// Rotated a quarter turn clockwise (square images) or a half turn (others).
    Rotate,
    /// Gaussian pixel noise of standard deviation `sigma`, clipped to [0, 1].
    Noise(f32),
    /// The test images of class `k` (the in-distribution set is then every other class):
    /// meaningful for a model trained without class `k` (`train --without-class K`).
    Class(u8),
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invert => write!(f, "invert"),
            Self::Rotate => write!(f, "rotate"),
            Self::Noise(s) => write!(f, "noise:{s}"),
            Self::Class(k) => write!(f, "class:{k}"),
        }
    }
}

impl FromStr for Shift {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        match (name, arg) {
            ("invert", None) => Ok(Self::Invert),
            ("rotate", None) => Ok(Self::Rotate),
            ("noise", None) => Ok(Self::Noise(DEFAULT_NOISE)),
            ("noise", Some(a)) => match a.parse::<f32>() {
                Ok(v) if v > 0.0 && v <= 1.0 => Ok(Self::Noise(v)),
                _ => Err(format!(
                    "noise level '{a}' must be a number in (0, 1] (the pixel noise's σ)"
                )),
            },
            ("class", Some(a)) => a
                .parse::<u8>()
                .map(Self::Class)
                .map_err(|_| format!("class '{a}' must be a label 0–255")),
            _ => Err(format!(
                "unknown shift '{s}': use invert, rotate, noise[:SIGMA] or class:K"
            )),
        }
    }
}

/// The pixel noise of `noise` without a level.
pub const DEFAULT_NOISE: f32 = 0.3;

/// Seed of the noise shift (fixed, so scores are comparable across runs and sessions).
const NOISE_SEED: u64 = 0x0A0D_5EED;

/// Why a shifted set cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    /// No test image has the held-out class.
    #[error("no test image has label {0}: nothing to hold out")]
    NoSuchClass(u8),
    /// Every test image has the held-out class.
    #[error("every test image has label {0}: no in-distribution images left")]
    OnlyClass(u8),
    /// No training image has the class to leave out of training.
    #[error(
        "no training image of {data} has label {class} (its labels: {present}): nothing to leave out"
    )]
    NotInTraining {
        /// The class asked for.
        class: u8,
        /// The dataset's name.
        data: String,
        /// The labels the training split does have, e.g. `0, 1, …, 9`.
        present: String,
    },
    /// Every training image has the class to leave out.
    #[error("every training image of {data} has label {class}: nothing left to train on")]
    OnlyClassInTraining {
        /// The class asked for.
        class: u8,
        /// The dataset's name.
        data: String,
    },
}

impl Shift {
    /// `(in-distribution, shifted)` sets from `test`.
    pub fn split(&self, test: &Split) -> Result<(Split, Split), ShiftError> {
        match *self {
            Self::Class(k) => {
                let (normal, held) = partition(test, |l| l != k);
                if held.is_empty() {
                    return Err(ShiftError::NoSuchClass(k));
                }
                if normal.is_empty() {
                    return Err(ShiftError::OnlyClass(k));
                }
                Ok((normal, held))
            }
            _ => Ok((test.clone(), self.apply(test))),
        }
    }

    /// The images of `split` transformed (labels kept); a class shift returns the split as is.
    pub fn apply(&self, split: &Split) -> Split {
        let (r, c) = (split.rows, split.cols);
        // Each channel plane turns on its own.
        let n = split.shape().plane();
        // Where each value of a plane comes from.
        let turned = |y: usize, x: usize| {
            if r == c {
                // Clockwise quarter turn: out(y, x) = in(r − 1 − x, y).
                (r - 1 - x) * c + y
            } else {
                (r - 1 - y) * c + (c - 1 - x)
            }
        };
        fn rotate<T: Copy>(
            v: &mut [T],
            src: &[T],
            n: usize,
            r: usize,
            c: usize,
            from: impl Fn(usize, usize) -> usize,
        ) {
            for (dst, src) in v.chunks_exact_mut(n).zip(src.chunks_exact(n)) {
                for y in 0..r {
                    for x in 0..c {
                        dst[y * c + x] = src[from(y, x)];
                    }
                }
            }
        }
        let mut out = split.clone();
        match *self {
            Self::Invert => match &mut out.pixels {
                Pixels::U8(v) => v.iter_mut().for_each(|p| *p = 255 - *p),
                Pixels::F32(v) => v.iter_mut().for_each(|p| *p = 1.0 - *p),
            },
            Self::Rotate => match (&mut out.pixels, &split.pixels) {
                (Pixels::U8(v), Pixels::U8(s)) => rotate(v, s, n, r, c, turned),
                (Pixels::F32(v), Pixels::F32(s)) => rotate(v, s, n, r, c, turned),
                // A clone has its source's storage.
                _ => {}
            },
            Self::Noise(sigma) => {
                let mut rng = ChaCha8Rng::seed_from_u64(NOISE_SEED);
                let mut v = split.pixels.to_f32();
                for p in v.iter_mut() {
                    let e: f32 = rand::RngExt::sample(&mut rng, rand_distr::StandardNormal);
                    *p = (*p + sigma * e).clamp(0.0, 1.0);
                }
                out.pixels = Pixels::F32(v);
            }
            Self::Class(_) => {}
        }
        out
    }
}

/// The images whose label passes `keep`, and the others.
pub fn partition(split: &Split, keep: impl Fn(u8) -> bool) -> (Split, Split) {
    let mut a = Split::empty(split.shape());
    let mut b = Split::empty(split.shape());
    for i in 0..split.len() {
        let dst = if keep(split.labels[i]) {
            &mut a
        } else {
            &mut b
        };
        dst.push_from(split, i);
    }
    (a, b)
}

/// `data` with every *training* image of class `k` removed, for a model that has never seen
/// it (`train --without-class K`); the test split is kept whole, so [`Shift::Class`]`(k)`
/// then tells the unseen class from the rest. The name says what was left out.
pub fn without_class(data: &Dataset, k: u8) -> Result<Dataset, ShiftError> {
    let (train, held) = partition(&data.train, |l| l != k);
    if held.is_empty() {
        let mut labels: Vec<u8> = data.train.labels.clone();
        labels.sort_unstable();
        labels.dedup();
        let present: Vec<String> = labels.iter().map(u8::to_string).collect();
        return Err(ShiftError::NotInTraining {
            class: k,
            data: data.name.clone(),
            present: if present.is_empty() {
                "none".into()
            } else {
                present.join(", ")
            },
        });
    }
    if train.is_empty() {
        return Err(ShiftError::OnlyClassInTraining {
            class: k,
            data: data.name.clone(),
        });
    }
    Ok(Dataset {
        name: format!("{} without class {k}", data.name),
        train,
        test: data.test.clone(),
        // The factors' training rows would no longer line up with the images.
        factors: None,
    })
}
