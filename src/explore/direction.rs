//! Attribute directions: two sets of test items (A and B) give the direction from B's mean
//! code to A's, "toward 7s from 1s" or "toward the digits I selected here from those there";
//! moving a code along it changes what the two sets differ in. Used by `traverse
//! --direction` and by the app's map selections (one direction per run, from each run's own
//! codes of the same items).

use std::collections::BTreeSet;
use std::fmt;

/// Why a direction cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectionError {
    /// The text does not say two sets.
    #[error(
        "direction '{text}': {why} (expected A/B, each set `label:K` or test indices such as \
         `3,17,40-50`; or @FILE holding that text)"
    )]
    Syntax {
        /// The text given.
        text: String,
        /// What is wrong with it.
        why: String,
    },
    /// A set has no items (after its label or indices were looked up).
    #[error("set {which} ({set}) has no items among the {n} encoded test items")]
    Empty {
        /// `A` or `B`.
        which: char,
        /// The set, as the user wrote it.
        set: String,
        /// How many items were encoded.
        n: usize,
    },
    /// An index names no encoded item.
    #[error("set {which}: test item {index} is out of range (the {n} encoded items are 0..={})", n.saturating_sub(1))]
    OutOfRange {
        /// `A` or `B`.
        which: char,
        /// The index.
        index: usize,
        /// How many items were encoded.
        n: usize,
    },
    /// The codes are not `n × d`.
    #[error("codes of length {len} are not a whole number of {d}-dimensional rows")]
    Shape {
        /// The codes' length.
        len: usize,
        /// The dimension.
        d: usize,
    },
}

/// Largest index range `I-J` a set may name (a typo such as `1-99999999` gets an error,
/// not a huge allocation).
pub const MAX_SET_ITEMS: usize = 1_000_000;

/// One set of test items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSet {
    /// Every test item of this label.
    Label(u8),
    /// These test items (sorted, without repeats).
    Items(Vec<usize>),
}

impl ItemSet {
    /// Parse `label:K` or a comma-separated list of indices and inclusive ranges `I-J`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(k) = s.strip_prefix("label:") {
            return k
                .trim()
                .parse::<u8>()
                .map(Self::Label)
                .map_err(|_| format!("'{k}' is not a label (0–255)"));
        }
        if s.is_empty() {
            return Err("a set is empty".into());
        }
        let mut items = BTreeSet::new();
        for part in s.split(',') {
            let part = part.trim();
            let index = |t: &str| {
                t.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("'{t}' is not a test index"))
            };
            match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (index(lo)?, index(hi)?);
                    if lo > hi {
                        return Err(format!("range {part} runs backwards"));
                    }
                    if hi - lo >= MAX_SET_ITEMS {
                        return Err(format!("range {part} names over {MAX_SET_ITEMS} items"));
                    }
                    items.extend(lo..=hi);
                }
                None => {
                    items.insert(index(part)?);
                }
            }
        }
        Ok(Self::Items(items.into_iter().collect()))
    }

    /// The test items it names, given every test item's label; `which` (`A`/`B`) and `n`
    /// (the encoded items, the first `n` of the test set) name it in errors.
    pub fn resolve(
        &self,
        labels: &[u8],
        n: usize,
        which: char,
    ) -> Result<Vec<usize>, DirectionError> {
        let items: Vec<usize> = match self {
            Self::Label(k) => labels
                .iter()
                .take(n)
                .enumerate()
                .filter(|(_, l)| *l == k)
                .map(|(i, _)| i)
                .collect(),
            Self::Items(v) => {
                if let Some(&index) = v.iter().find(|&&i| i >= n) {
                    return Err(DirectionError::OutOfRange { which, index, n });
                }
                v.clone()
            }
        };
        if items.is_empty() {
            return Err(DirectionError::Empty {
                which,
                set: self.to_string(),
                n,
            });
        }
        Ok(items)
    }

    /// These items as a set (runs of consecutive indices written `I-J`).
    pub fn of_items(items: impl IntoIterator<Item = usize>) -> Self {
        let set: BTreeSet<usize> = items.into_iter().collect();
        Self::Items(set.into_iter().collect())
    }
}

impl fmt::Display for ItemSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Label(k) => write!(f, "label:{k}"),
            Self::Items(v) => {
                let mut parts = Vec::new();
                let mut i = 0;
                while i < v.len() {
                    let mut j = i;
                    while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
                        j += 1;
                    }
                    parts.push(if j > i {
                        format!("{}-{}", v[i], v[j])
                    } else {
                        v[i].to_string()
                    });
                    i = j + 1;
                }
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// A direction's two sets: it points from B's mean code to A's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectionSpec {
    /// The set the direction points toward.
    pub a: ItemSet,
    /// The set it points away from.
    pub b: ItemSet,
}

impl DirectionSpec {
    /// Parse `A/B` (each an [`ItemSet`]).
    pub fn parse(s: &str) -> Result<Self, DirectionError> {
        let syntax = |why: String| DirectionError::Syntax {
            text: s.to_string(),
            why,
        };
        let (a, b) = s
            .split_once('/')
            .ok_or_else(|| syntax("no '/' between the sets A and B".into()))?;
        if b.contains('/') {
            return Err(syntax("more than one '/'".into()));
        }
        Ok(Self {
            a: ItemSet::parse(a).map_err(|e| syntax(format!("set A: {e}")))?,
            b: ItemSet::parse(b).map_err(|e| syntax(format!("set B: {e}")))?,
        })
    }
}

impl fmt::Display for DirectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.a, self.b)
    }
}

/// An attribute direction in one model's latent space.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDirection {
    /// B's mean code (where t = 0 lands when starting from it).
    pub from: Vec<f32>,
    /// A's mean code.
    pub to: Vec<f32>,
    /// `to − from`.
    pub vector: Vec<f32>,
    /// How many items A and B hold.
    pub sizes: (usize, usize),
    /// How far apart the two sets lie along the direction, in pooled standard deviations
    /// of their codes' projections on it (Cohen's d); `None` when it is not defined (the
    /// sets do not spread along it, or the means coincide).
    pub separation: Option<f64>,
}

impl AttributeDirection {
    /// The direction's Euclidean length.
    pub fn length(&self) -> f64 {
        self.vector
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt()
    }
}

/// The mean of rows `items` of `codes` (`n × d`, row-major), in f64; `None` when `items`
/// is empty or names a row past the end.
pub fn mean_code(codes: &[f32], d: usize, items: &[usize]) -> Option<Vec<f32>> {
    if items.is_empty() || d == 0 {
        return None;
    }
    let mut sum = vec![0.0f64; d];
    for &i in items {
        let row = codes.get(i * d..(i + 1) * d)?;
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    let n = items.len() as f64;
    Some(sum.into_iter().map(|s| (s / n) as f32).collect())
}

/// The direction from the mean code of rows `b` to that of rows `a` of `codes`
/// (`n × d`, row-major), with the sets' separation along it.
pub fn attribute_direction(
    codes: &[f32],
    d: usize,
    a: &[usize],
    b: &[usize],
) -> Result<AttributeDirection, DirectionError> {
    if d == 0 || !codes.len().is_multiple_of(d) {
        return Err(DirectionError::Shape {
            len: codes.len(),
            d,
        });
    }
    let n = codes.len() / d;
    for (which, set) in [('A', a), ('B', b)] {
        if set.is_empty() {
            return Err(DirectionError::Empty {
                which,
                set: "none given".into(),
                n,
            });
        }
        if let Some(&index) = set.iter().find(|&&i| i >= n) {
            return Err(DirectionError::OutOfRange { which, index, n });
        }
    }
    // Both sets are non-empty and in range (checked above).
    let (Some(to), Some(from)) = (mean_code(codes, d, a), mean_code(codes, d, b)) else {
        return Err(DirectionError::Shape {
            len: codes.len(),
            d,
        });
    };
    let vector: Vec<f32> = to.iter().zip(&from).map(|(t, f)| t - f).collect();
    let len: f64 = vector
        .iter()
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let separation = (len > 0.0)
        .then(|| {
            let project = |set: &[usize]| -> Vec<f64> {
                set.iter()
                    .map(|&i| {
                        codes[i * d..(i + 1) * d]
                            .iter()
                            .zip(&vector)
                            .map(|(&c, &v)| c as f64 * v as f64)
                            .sum::<f64>()
                            / len
                    })
                    .collect()
            };
            let var = |p: &[f64]| {
                let m = p.iter().sum::<f64>() / p.len() as f64;
                p.iter().map(|x| (x - m).powi(2)).sum::<f64>() / p.len() as f64
            };
            let pooled = ((var(&project(a)) + var(&project(b))) / 2.0).sqrt();
            (pooled > 0.0).then(|| len / pooled)
        })
        .flatten();
    Ok(AttributeDirection {
        from,
        to,
        vector,
        sizes: (a.len(), b.len()),
        separation,
    })
}

/// `base + t · vector` for each `t` of `amounts`, row-major.
pub fn along(base: &[f32], vector: &[f32], amounts: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(amounts.len() * base.len());
    for &t in amounts {
        out.extend(base.iter().zip(vector).map(|(&b, &v)| b + t * v));
    }
    out
}

/// `steps` amounts evenly from `lo` to `hi` (both included; one step: their midpoint).
pub fn amounts(lo: f32, hi: f32, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|i| {
            if steps > 1 {
                lo + (hi - lo) * i as f32 / (steps - 1) as f32
            } else {
                0.5 * (lo + hi)
            }
        })
        .collect()
}
