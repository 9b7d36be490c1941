//! Loss curves. Compare layout: one term (a selector) for every run, overlaid, one colour per
//! run, x in epochs or steps; a followed sweep's configurations as their runs' mean in a
//! band of ± one sd (a toggle). Focus layout: every term of the focused run, train per step
//! (smoothed) and test per epoch, with the KL weight in a linked strip below. The epoch
//! scrubber's position is a vertical line.

use eframe::egui;
use egui_plot::{FilledArea, Legend, Line, PlotPoints, Points, VLine};

use super::ViewCtx;
use crate::train::EvalMetrics;
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::seeds::{self, Band, Configuration};
use crate::ui::settings::{CurveTerm, CurveX, Layout};

fn smooth(points: impl Iterator<Item = [f64; 2]>, alpha: f64) -> Vec<[f64; 2]> {
    let mut out = Vec::new();
    let mut acc: Option<f64> = None;
    for [x, y] in points {
        if !y.is_finite() {
            continue;
        }
        let v = match acc {
            Some(a) => alpha * a + (1.0 - alpha) * y,
            None => y,
        };
        acc = Some(v);
        out.push([x, v]);
    }
    out
}

fn scale(v: Vec<[f64; 2]>, log: bool) -> Vec<[f64; 2]> {
    if !log {
        return v;
    }
    v.into_iter()
        .filter(|p| p[1] > 0.0)
        .map(|[x, y]| [x, y.log10()])
        .collect()
}

/// Steps per epoch of a run (for an epoch axis), from the data it trains on (a followed
/// run's may be bigger than the workspace's).
fn steps_per_epoch(run: &Run) -> f64 {
    let n = match run.dataset.train_images {
        0 => run.data.train.len(),
        n => n,
    };
    run.config.steps_per_epoch(n).max(1) as f64
}

/// Draw the curves for the current layout.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    match ctx.view.layout {
        Layout::Compare => overlay(ui, ctx),
        Layout::Focus => single(ui, ctx),
    }
}

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, term_selector: bool) {
    let sweeps = !ctx.runs.sweeps.is_empty();
    let v = &mut *ctx.view;
    ui.horizontal_wrapped(|ui| {
        ui.heading("Loss curves")
            .on_hover_text(help::figure::CURVES);
        if term_selector {
            let l = ui.label("term");
            egui::ComboBox::from_id_salt("curve-term")
                .selected_text(v.curve_term.label())
                .show_ui(ui, |ui| {
                    for t in CurveTerm::ALL {
                        ui.selectable_value(&mut v.curve_term, t, t.label());
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(help::CURVE_TERM);
            ui.radio_value(&mut v.curve_x, CurveX::Epoch, "per epoch")
                .on_hover_text(help::CURVE_X);
            ui.radio_value(&mut v.curve_x, CurveX::Step, "per step")
                .on_hover_text(help::CURVE_X);
            if sweeps {
                ui.checkbox(&mut v.seed_bands, "seed mean ± sd")
                    .on_hover_text(help::SEED_BANDS);
            }
        }
        ui.checkbox(&mut v.log_scale, "log scale")
            .on_hover_text(help::LOG_SCALE);
        ui.add(
            egui::Slider::new(&mut v.smoothing, crate::ui::settings::SMOOTHING).text("smoothing"),
        )
        .on_hover_text(help::SMOOTHING);
    });
}

/// The points of `term` for `run`, x in steps.
fn term_points(run: &Run, term: CurveTerm, alpha: f64) -> (Vec<[f64; 2]>, bool) {
    let h = &run.history;
    let per_step = |col: usize| smooth(h.steps.iter().map(|r| [r[0], r[col]]), alpha);
    let per_epoch = |f: fn(&EvalMetrics) -> f64| -> Vec<[f64; 2]> {
        h.epochs
            .iter()
            .map(|(_, st, m)| [*st as f64, f(m)])
            .collect()
    };
    match term {
        CurveTerm::Loss => (per_step(1), false),
        CurveTerm::Rec => (per_step(2), false),
        CurveTerm::Kl => (per_step(3), false),
        CurveTerm::KlWeight => (h.kl_weight.clone(), false),
        CurveTerm::TestNegElbo => (
            if run.has_bound() {
                per_epoch(|m| m.neg_elbo)
            } else {
                Vec::new()
            },
            true,
        ),
        CurveTerm::TestRec => (per_epoch(|m| m.rec), true),
        CurveTerm::TestKl => (per_epoch(|m| m.kl), true),
    }
}

/// Configurations past which a software rasteriser does not fill their bands: each filled
/// band shades the plot again (50 configurations of a sweep took a dragging frame from
/// about 50 to 73 ms at 1600×1000 under lavapipe; README).
const CROWDED: usize = 8;

/// Height of one legend entry (points): a legend taller than the plot is left out.
const LEGEND_ROW: f32 = 18.0;

/// Whether `term` is a test figure (a point per epoch).
fn term_points_per_epoch(term: CurveTerm) -> bool {
    matches!(
        term,
        CurveTerm::TestNegElbo | CurveTerm::TestRec | CurveTerm::TestKl
    )
}

fn overlay(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx, true);
    let v = ctx.view.clone();
    let alpha = v.smoothing as f64;
    let term = v.curve_term;
    let runs = ctx.runs;
    let scrub = runs.scrub;
    let bands = v.seed_bands && !runs.sweeps.is_empty();
    // A run's points, x in the chosen unit.
    let points = |run: &Run| -> (Vec<[f64; 2]>, bool) {
        let (pts, per_epoch) = term_points(run, term, alpha);
        let spe = steps_per_epoch(run);
        let pts: Vec<[f64; 2]> = match v.curve_x {
            CurveX::Step => pts,
            CurveX::Epoch => pts.into_iter().map(|[x, y]| [x / spe, y]).collect(),
        };
        (scale(pts, v.log_scale), per_epoch)
    };
    // Each run's own curve (a sweep's runs are drawn as their configurations' bands when
    // those are on).
    let series: Vec<(&Run, Vec<[f64; 2]>, bool)> = runs
        .iter()
        .filter(|r| !bands || r.sweep.is_none())
        .map(|run| {
            let (pts, per_epoch) = points(run);
            (run, pts, per_epoch)
        })
        .collect();
    // Each configuration's mean and band over its runs.
    let per_epoch_term = term_points_per_epoch(term);
    let band_series: Vec<(Configuration<'_>, Band)> = if bands {
        seeds::configurations(runs)
            .into_iter()
            .map(|c| {
                let curves: Vec<Vec<[f64; 2]>> = c.runs.iter().map(|r| points(r).0).collect();
                let b = seeds::band(&curves);
                (c, b)
            })
            .collect()
    } else {
        Vec::new()
    };
    // A software rasteriser pays for every translucent pixel: past a handful of
    // configurations their bands are not filled.
    let filled = !(ctx.software_renderer && band_series.len() > CROWDED);
    if !filled {
        ui.weak(format!(
            "{} configurations: their means only (bands are filled for up to {CROWDED} on a software renderer)",
            band_series.len()
        ))
        .on_hover_text(help::SEED_BANDS);
    }
    if series.iter().all(|(_, pts, _)| pts.is_empty())
        && band_series.iter().all(|(_, b)| b.x.is_empty())
    {
        ui.weak(
            "No run has this term yet. Loaded checkpoints carry test figures only: choose a test term.",
        );
    }
    // One legend entry per run and per configuration, while they fit beside the plot (a
    // longer legend would run over the panels below).
    let entries = series.len() + band_series.len();
    let room = ui.available_height() - 8.0;
    let legend = entries as f32 * LEGEND_ROW <= room - 2.0 * LEGEND_ROW;
    if !legend {
        ui.weak(format!(
            "{entries} curves: no legend (point at a curve for its name)"
        ));
    }
    // (Below that line, if it was drawn.)
    let height = (ui.available_height() - 8.0).max(100.0);
    let mut plot = super::plot(ctx, "loss-overlay").height(height);
    if legend {
        plot = plot.legend(Legend::default());
    }
    plot.x_axis_label(match v.curve_x {
        CurveX::Epoch => "epoch",
        CurveX::Step => "step",
    })
    .y_axis_label(if v.log_scale {
        format!("log10 {}", term.label())
    } else {
        format!("{} (nats / image)", term.label())
    })
    .show(ui, |p| {
        for (run, pts, per_epoch) in series {
            p.line(Line::new(run.name.clone(), PlotPoints::from(pts.clone())).color(run.colour));
            if per_epoch {
                p.points(
                    Points::new(run.name.clone(), PlotPoints::from(pts))
                        .color(run.colour)
                        .radius(3.0),
                );
            }
        }
        for (conf, b) in band_series {
            if b.x.is_empty() {
                continue;
            }
            if filled {
                p.add(
                    FilledArea::new(conf.label, &b.x, &b.lo, &b.hi)
                        .fill_color(conf.colour.gamma_multiply(0.25)),
                );
            }
            let mean = b.mean_points();
            p.line(Line::new(conf.label, PlotPoints::from(mean.clone())).color(conf.colour));
            if per_epoch_term {
                p.points(
                    Points::new(conf.label, PlotPoints::from(mean))
                        .color(conf.colour)
                        .radius(3.0),
                );
            }
        }
        if let (Some(e), CurveX::Epoch) = (scrub, v.curve_x) {
            p.vline(VLine::new("scrubbed epoch", e as f64).color(egui::Color32::GRAY));
        }
    });
}

fn single(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx, false);
    let runs = ctx.runs;
    let Some(run) = runs.focused_run() else {
        return;
    };
    let v = ctx.view.clone();
    let alpha = v.smoothing as f64;
    let log = v.log_scale;
    let link = ui.scope_id().with("loss-x");
    let height = (ui.available_height() - 110.0).max(100.0);
    let scrub_step = runs
        .scrub
        .and_then(|e| run.metrics_at(e))
        .map(|(_, s, _)| *s as f64);
    super::plot(ctx, "loss")
        .height(height)
        .legend(Legend::default())
        .link_axis(link, [true, false])
        .x_axis_label("step")
        .y_axis_label(if log { "log10 nats" } else { "nats / image" })
        .show(ui, |p| {
            for term in [CurveTerm::Loss, CurveTerm::Rec, CurveTerm::Kl] {
                let (pts, _) = term_points(run, term, alpha);
                p.line(Line::new(term.label(), PlotPoints::from(scale(pts, log))));
            }
            for term in [
                CurveTerm::TestNegElbo,
                CurveTerm::TestRec,
                CurveTerm::TestKl,
            ] {
                let (pts, _) = term_points(run, term, alpha);
                if pts.is_empty() {
                    continue;
                }
                let pts = scale(pts, log);
                p.line(Line::new(term.label(), PlotPoints::from(pts.clone())));
                p.points(Points::new(term.label(), PlotPoints::from(pts)).radius(3.0));
            }
            if let Some(s) = scrub_step {
                p.vline(VLine::new("scrubbed epoch", s).color(egui::Color32::GRAY));
            }
        });
    super::plot(ctx, "kl-weight")
        .height(70.0)
        .link_axis(link, [true, false])
        .y_axis_label("KL weight")
        .include_y(0.0)
        .include_y(1.05)
        .show(ui, |p| {
            p.line(Line::new(
                "KL weight",
                PlotPoints::from(run.history.kl_weight.clone()),
            ));
        });
}
