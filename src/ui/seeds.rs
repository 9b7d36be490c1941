//! Seeds collapsed: a followed sweep's runs of one configuration (they differ only by
//! seed) summarised as one — a figure's mean ± sample sd over the runs that have it, with
//! n ([`crate::compare::mean_sd`], as `compare --seeds` and `compare --from` summarise), and
//! a curve's mean with a band of ± one sd across the runs, point by point.

use std::collections::BTreeMap;

use eframe::egui::Color32;

use super::run::Run;
use super::runs::Runs;
use super::sweeps::group_colour;
use crate::compare::mean_sd;
pub use crate::sweep::summary::Stat;

/// The runs of one configuration of a followed sweep that are in the workspace.
pub struct Configuration<'a> {
    /// Its label (the axes but the seed, e.g. `beta-vae beta=4`).
    pub label: &'a str,
    /// Its colour (its runs share it).
    pub colour: Color32,
    /// Its runs in the workspace, in plan order.
    pub runs: Vec<&'a Run>,
    /// Its runs not started yet.
    pub planned: usize,
}

/// Every configuration of every followed sweep with a run in the workspace, in the sweeps'
/// order and each sweep's plan order.
pub fn configurations(runs: &Runs) -> Vec<Configuration<'_>> {
    let mut out = Vec::new();
    for sweep in &runs.sweeps {
        for (g, group) in sweep.groups.iter().enumerate() {
            let members: Vec<&Run> = sweep
                .group_members(g)
                .into_iter()
                .filter_map(|id| runs.get(id))
                .collect();
            if members.is_empty() {
                continue;
            }
            out.push(Configuration {
                label: &group.label,
                colour: group_colour(g),
                runs: members,
                planned: sweep.group_planned(g).len(),
            });
        }
    }
    out
}

/// Mean, sample sd and count of `value` over the runs that have it; None when none has.
pub fn stat(runs: &[&Run], value: impl Fn(&Run) -> Option<f64>) -> Option<Stat> {
    let values: Vec<f64> = runs.iter().filter_map(|r| value(r)).collect();
    if values.is_empty() {
        return None;
    }
    let (mean, sd) = mean_sd(&values);
    Some(Stat {
        mean,
        sd,
        n: values.len(),
    })
}

/// A statistic as the metrics table shows it: `mean ± sd` with `decimals` places.
pub fn format_stat(s: &Stat, decimals: usize) -> String {
    format!("{:.*} ± {:.*}", decimals, s.mean, decimals, s.sd)
}

/// A curve's mean and ± one sd band across runs, point by point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Band {
    /// The x of each point.
    pub x: Vec<f64>,
    /// The mean over the runs that have a point there.
    pub mean: Vec<f64>,
    /// mean − sd.
    pub lo: Vec<f64>,
    /// mean + sd.
    pub hi: Vec<f64>,
    /// How many runs have a point there.
    pub n: Vec<usize>,
}

impl Band {
    fn push(&mut self, x: f64, ys: &[f64]) {
        let (mean, sd) = mean_sd(ys);
        self.x.push(x);
        self.mean.push(mean);
        self.lo.push(mean - sd);
        self.hi.push(mean + sd);
        self.n.push(ys.len());
    }

    /// The mean's points.
    pub fn mean_points(&self) -> Vec<[f64; 2]> {
        self.x
            .iter()
            .zip(&self.mean)
            .map(|(&x, &y)| [x, y])
            .collect()
    }
}

/// The band of `curves` (each a run's points, x ascending): at every x some curve has, the
/// mean and sd of the curves' values there. Runs of one configuration share their x (the
/// same data and batch size: the same steps), usually each a prefix of the longest run's,
/// which is read index by index; other x are matched exactly. A point that only some runs
/// reached (a run still training) is averaged over those.
pub fn band(curves: &[Vec<[f64; 2]>]) -> Band {
    let mut out = Band::default();
    let Some(longest) = curves.iter().max_by_key(|c| c.len()) else {
        return out;
    };
    let prefixes = curves
        .iter()
        .all(|c| c.iter().zip(longest).all(|(p, q)| p[0] == q[0]));
    let mut ys = Vec::with_capacity(curves.len());
    if prefixes {
        for (k, p) in longest.iter().enumerate() {
            ys.clear();
            ys.extend(curves.iter().filter_map(|c| c.get(k)).map(|p| p[1]));
            out.push(p[0], &ys);
        }
        return out;
    }
    // x ≥ 0 (steps, epochs): the bits of a non-negative float sort as the float does.
    let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for c in curves {
        for p in c {
            at.entry(p[0].max(0.0).to_bits()).or_default().push(p[1]);
        }
    }
    for (x, ys) in at {
        out.push(f64::from_bits(x), &ys);
    }
    out
}
