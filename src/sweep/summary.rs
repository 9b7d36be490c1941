//! A sweep's results without retraining (`compare --from DIR`): each run's newest test
//! metrics from its directory, grouped by configuration (runs that differ only by seed are
//! one), as mean ± sample sd over the runs that have them, with n.

use serde::Serialize;

use super::plan::{Plan, group_key, group_label};
use super::status::{RunState, sweep_status};
use crate::compare::mean_sd;
use crate::train::EvalMetrics;

/// Mean, sample standard deviation and count of one figure over a group's runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub sd: f64,
    /// Runs that have the figure.
    pub n: usize,
}

/// One configuration of a sweep, over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupSummary {
    /// The configuration's axes but the seed (`beta-vae beta=4`).
    pub label: String,
    /// Its runs, in plan order.
    pub runs: Vec<String>,
    /// Runs done.
    pub done: usize,
    /// Runs failed.
    pub failed: usize,
    /// Each figure's statistic over the runs that have it (`test −ELBO` only for variants
    /// with a likelihood bound), in a fixed order.
    pub figures: Vec<(String, Stat)>,
}

/// The figures of `m` to summarise (`bound`: the variant optimises a likelihood bound).
fn figures(m: &EvalMetrics, bound: bool) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    if bound {
        out.push(("test −ELBO".to_string(), m.neg_elbo));
        if let Some(v) = m.iwae_nll {
            out.push((format!("IWAE(k={}) NLL", m.iwae_k), v));
        }
    }
    out.push(("rec".into(), m.rec));
    if bound {
        out.push(("KL".into(), m.kl));
    }
    out.push(("MSE".into(), m.mse));
    out.push(("active units".into(), m.active_units as f64));
    out.extend(m.extra.iter().cloned());
    out
}

/// Every configuration of the sweep in `plan`, in plan order, with its runs' newest metrics
/// summarised (a running sweep: the epochs done so far).
pub fn summarize(plan: &Plan) -> Vec<GroupSummary> {
    /// A figure's values over a group's runs.
    type Values = Vec<(String, Vec<f64>)>;
    let mut groups: Vec<(String, GroupSummary, Values)> = Vec::new();
    for st in sweep_status(plan) {
        let cfg = plan.config(&st.entry.name).ok();
        let key = cfg
            .as_ref()
            .map(group_key)
            .unwrap_or_else(|| st.entry.name.clone());
        let bound = cfg
            .as_ref()
            .is_some_and(|c| c.run.variant.has_likelihood_bound());
        let idx = match groups.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                groups.push((
                    key,
                    GroupSummary {
                        label: group_label(&st.entry),
                        runs: Vec::new(),
                        done: 0,
                        failed: 0,
                        figures: Vec::new(),
                    },
                    Vec::new(),
                ));
                groups.len() - 1
            }
        };
        let (_, g, values) = &mut groups[idx];
        g.runs.push(st.entry.name.clone());
        match st.state {
            RunState::Done { .. } => g.done += 1,
            RunState::Failed { .. } => g.failed += 1,
            _ => {}
        }
        if let Some(m) = &st.metrics {
            for (name, v) in figures(m, bound) {
                match values.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, vs)) => vs.push(v),
                    None => values.push((name, vec![v])),
                }
            }
        }
    }
    groups
        .into_iter()
        .map(|(_, mut g, values)| {
            g.figures = values
                .into_iter()
                .map(|(name, vs)| {
                    let (mean, sd) = mean_sd(&vs);
                    (
                        name,
                        Stat {
                            mean,
                            sd,
                            n: vs.len(),
                        },
                    )
                })
                .collect();
            g
        })
        .collect()
}

/// The figure names of `groups`, in first-seen order.
fn columns(groups: &[GroupSummary]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for g in groups {
        for (name, _) in &g.figures {
            if !cols.contains(name) {
                cols.push(name.clone());
            }
        }
    }
    cols
}

/// The summary as a Markdown table: a row per configuration, `mean ± sd (n)` per figure.
pub fn table(groups: &[GroupSummary]) -> String {
    let cols = columns(groups);
    let mut s = format!(
        "| configuration | runs | done |{}\n| --- | --- | --- |{}\n",
        cols.iter().map(|c| format!(" {c} |")).collect::<String>(),
        " --- |".repeat(cols.len())
    );
    for g in groups {
        s.push_str(&format!("| {} | {} | {} |", g.label, g.runs.len(), g.done));
        for c in &cols {
            let cell = match g.figures.iter().find(|(n, _)| n == c) {
                Some((_, st)) if st.n > 1 => {
                    let digits = if st.mean.abs() >= 10.0 { 2 } else { 4 };
                    format!(" {:.digits$} ± {:.digits$} ({}) |", st.mean, st.sd, st.n)
                }
                Some((_, st)) => format!(" {:.4} (1) |", st.mean),
                None => " – |".into(),
            };
            s.push_str(&cell);
        }
        s.push('\n');
    }
    s
}

/// The summary as CSV: a row per configuration; per figure its mean, sd and n.
pub fn csv(groups: &[GroupSummary]) -> String {
    let cols = columns(groups);
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut header = vec!["configuration".to_string(), "runs".into(), "done".into()];
    for c in &cols {
        for part in ["mean", "sd", "n"] {
            header.push(field(&format!("{c} {part}")));
        }
    }
    let mut out = header.join(",") + "\n";
    for g in groups {
        let mut row = vec![
            field(&g.label),
            g.runs.len().to_string(),
            g.done.to_string(),
        ];
        for c in &cols {
            match g.figures.iter().find(|(n, _)| n == c) {
                Some((_, st)) => {
                    row.extend([st.mean.to_string(), st.sd.to_string(), st.n.to_string()])
                }
                None => row.extend([String::new(), String::new(), "0".into()]),
            }
        }
        out.push_str(&(row.join(",") + "\n"));
    }
    out
}
