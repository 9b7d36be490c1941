//! The live metrics table: one row per run (in its colour) with its latest test figures —
//! or those of the scrubbed epoch — and, for every run but the baseline, the difference
//! from the baseline run. A followed sweep's runs can be collapsed into one row per
//! configuration: mean ± sd over its seeds, and n.

use eframe::egui;

use super::ViewCtx;
use crate::train::EvalMetrics;
use crate::ui::command::{RunAction, UiCommand};
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::seeds::{self, Configuration};

/// One column: its header, hover text, how to read it off a run, and its precision.
struct Column {
    name: &'static str,
    help: &'static str,
    value: fn(&Run, &EvalMetrics) -> Option<f64>,
    decimals: usize,
    /// Shown only when some run has a value (a score measured on some data only).
    optional: bool,
}

const COLUMNS: [Column; 8] = [
    Column {
        name: "test −ELBO",
        help: help::NEG_ELBO,
        value: |r, m| r.has_bound().then_some(m.neg_elbo),
        decimals: 2,
        optional: false,
    },
    Column {
        name: "IWAE NLL",
        help: help::IWAE_NLL,
        value: |r, m| m.iwae_nll.filter(|_| r.has_bound()),
        decimals: 2,
        optional: false,
    },
    Column {
        name: "rec",
        help: help::REC,
        value: |_, m| Some(m.rec),
        decimals: 2,
        optional: false,
    },
    Column {
        name: "KL",
        help: help::KL,
        // A VQ-VAE has no KL term (its 0 is no measurement): n/a, as `eval` prints it.
        value: |r, m| (!r.is_quantized()).then_some(m.kl),
        decimals: 2,
        optional: false,
    },
    Column {
        name: "active units",
        help: help::ACTIVE_UNITS,
        value: |_, m| Some(m.active_units as f64),
        decimals: 0,
        optional: false,
    },
    Column {
        name: "samples/s",
        help: help::SAMPLES_PER_SEC,
        value: |r, _| (r.status.samples_per_sec > 0.0).then_some(r.status.samples_per_sec),
        decimals: 0,
        optional: false,
    },
    Column {
        name: "MIG",
        help: help::MIG,
        value: |_, m| m.extra(crate::train::metrics::MIG),
        decimals: 3,
        optional: true,
    },
    Column {
        name: "FactorVAE score",
        help: help::FACTOR_VAE_SCORE,
        value: |_, m| m.extra(crate::train::metrics::FACTOR_VAE_SCORE),
        decimals: 3,
        optional: true,
    },
];

/// A run with figures: its test metrics and the epoch they are of.
type Figures<'a> = (&'a Run, EvalMetrics, usize);

/// A run's figures: the scrubbed epoch's, or the newest.
fn run_figures(scrub: Option<usize>, run: &Run) -> Option<(usize, EvalMetrics)> {
    match scrub {
        Some(e) => run.metrics_at(e).map(|(ep, _, m)| (*ep, m.clone())),
        None => run.history.epochs.last().map(|(ep, _, m)| (*ep, m.clone())),
    }
}

/// Draw the table.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    let sweeps = !runs.sweeps.is_empty();
    ui.horizontal_wrapped(|ui| {
        ui.heading("Metrics").on_hover_text(help::figure::METRICS);
        match runs.scrub {
            Some(e) => ui.weak(format!("after epoch {e} (scrubbed)")),
            None => ui.weak("latest epoch; Δ against the baseline"),
        };
        if sweeps {
            ui.checkbox(&mut ctx.view.group_seeds, "one row per configuration")
                .on_hover_text(help::GROUP_SEEDS);
        }
    });
    let grouped = sweeps && ctx.view.group_seeds;
    let figures = |run: &Run| run_figures(runs.scrub, run);
    // Each run's figures, read once for the columns and the rows (a sweep's runs are
    // summarised per configuration when grouped).
    let table: Vec<(&Run, Option<(usize, EvalMetrics)>)> = runs
        .iter()
        .filter(|r| !grouped || r.sweep.is_none())
        .map(|r| (r, figures(r)))
        .collect();
    let configurations: Vec<(Configuration<'_>, Vec<Figures<'_>>)> = if grouped {
        seeds::configurations(runs)
            .into_iter()
            .map(|c| {
                let with: Vec<Figures<'_>> = c
                    .runs
                    .iter()
                    .filter_map(|r| figures(r).map(|(e, m)| (*r, m, e)))
                    .collect();
                (c, with)
            })
            .collect()
    } else {
        Vec::new()
    };
    let base_figures = table
        .iter()
        .find(|(r, _)| runs.baseline == Some(r.id))
        .and_then(|(b, f)| f.clone().map(|f| (*b, f)));
    let columns: Vec<&Column> = COLUMNS
        .iter()
        .filter(|c| {
            !c.optional
                || table
                    .iter()
                    .any(|(r, f)| f.as_ref().is_some_and(|(_, m)| (c.value)(r, m).is_some()))
                || configurations
                    .iter()
                    .flat_map(|(_, w)| w)
                    .any(|(r, m, _)| (c.value)(r, m).is_some())
        })
        .collect();
    egui::ScrollArea::both().id_salt("metrics").show(ui, |ui| {
        egui::Grid::new("metrics-table")
            .striped(true)
            .spacing([12.0, 4.0])
            .show(ui, |ui| {
                ui.strong("run (selected: baseline)")
                    .on_hover_text(help::BASELINE);
                ui.strong("epoch").on_hover_text(help::EPOCH);
                if grouped {
                    ui.strong("runs").on_hover_text(help::SEEDS_COLUMN);
                }
                for c in &columns {
                    ui.strong(c.name).on_hover_text(c.help);
                }
                ui.end_row();
                for (run, figures) in &table {
                    let is_base = runs.baseline == Some(run.id);
                    let name = egui::RichText::new(&run.name).color(run.colour).strong();
                    if ui
                        .radio(is_base, name)
                        .on_hover_text(help::BASELINE)
                        .clicked()
                    {
                        ctx.push(UiCommand::Run(run.id, RunAction::SetBaseline));
                    }
                    let Some((epoch, m)) = figures else {
                        ui.weak("—");
                        if grouped {
                            ui.weak("—");
                        }
                        ui.weak("no test figures yet");
                        ui.end_row();
                        continue;
                    };
                    ui.label(epoch.to_string());
                    if grouped {
                        ui.label("1");
                    }
                    for c in &columns {
                        let v = (c.value)(run, m);
                        let text = match v {
                            Some(v) => format!("{v:.*}", c.decimals),
                            // A bound that was not computed is not the same as no bound.
                            None if c.name == "IWAE NLL" && run.has_bound() => {
                                "not computed".into()
                            }
                            None => "n/a".into(),
                        };
                        let delta = match (&base_figures, v) {
                            (Some((b, (_, bm))), Some(v)) if b.id != run.id => {
                                (c.value)(b, bm).map(|bv| v - bv)
                            }
                            _ => None,
                        };
                        ui.horizontal(|ui| {
                            ui.label(text);
                            if let Some(d) = delta {
                                ui.small(format!("({d:+.*})", c.decimals));
                            }
                        });
                    }
                    ui.end_row();
                }
                for (conf, with) in &configurations {
                    configuration_row(ui, conf, with, &columns);
                }
            });
    });
}

/// One configuration of a sweep as one row: each figure's mean ± sd over its runs that
/// have it (with that count when fewer than the row's n).
fn configuration_row(
    ui: &mut egui::Ui,
    conf: &Configuration<'_>,
    with: &[Figures<'_>],
    columns: &[&Column],
) {
    let label = egui::RichText::new(conf.label).color(conf.colour).strong();
    ui.label(label).on_hover_text(help::SWEEP_GROUP);
    let n = with.len();
    if n == 0 {
        ui.weak("—");
        ui.label(format!("0 of {}", conf.runs.len()));
        ui.weak("no test figures yet");
        ui.end_row();
        return;
    }
    let lo = with.iter().map(|(_, _, e)| *e).min().unwrap_or(0);
    let hi = with.iter().map(|(_, _, e)| *e).max().unwrap_or(0);
    ui.label(if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    });
    ui.label(if n == conf.runs.len() {
        n.to_string()
    } else {
        format!("{n} of {}", conf.runs.len())
    });
    let runs: Vec<&Run> = with.iter().map(|(r, _, _)| *r).collect();
    for c in columns {
        let value = |r: &Run| {
            with.iter()
                .find(|(w, _, _)| w.id == r.id)
                .and_then(|(w, m, _)| (c.value)(w, m))
        };
        match seeds::stat(&runs, value) {
            Some(st) if st.n < n => ui.label(format!(
                "{} ({})",
                seeds::format_stat(&st, c.decimals),
                st.n
            )),
            Some(st) => ui.label(seeds::format_stat(&st, c.decimals)),
            None => ui.weak("n/a"),
        };
    }
    ui.end_row();
}
