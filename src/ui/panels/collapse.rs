//! The posterior-collapse timeline: per run, a heat map of each latent dimension's KL (or
//! its activity, Var_x(E_q[z_j])) at every test evaluation, the cells where the dimension is
//! inactive marked, a colour scale with the active-units threshold, and the dimensions
//! collapsed at the last evaluation listed. The matrix is the library's
//! [`crate::explore::CollapseTimeline`] of the run's history; a run with no history shows
//! one column from its codes (the statistics every run computes) and says so.

use eframe::egui;

use super::{ViewCtx, column_width, run_label};
use crate::explore::{CollapseColumn, CollapseTimeline};
use crate::ui::help;
use crate::ui::run::Run;

/// The smallest value the log colour scale shows (KL in nats, or activity); smaller ones
/// take its colour.
const FLOOR: f64 = 1e-4;

/// A perceptually ordered colour for `t` in [0, 1] (viridis, interpolated between five of
/// its colours).
pub fn heat_colour(t: f64) -> egui::Color32 {
    const STOPS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let c = |k: usize| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8;
    egui::Color32::from_rgb(c(0), c(1), c(2))
}

/// A horizontal colour scale over `[lo, hi]` (labelled by `label` at both ends), with an
/// optional mark at `mark`.
pub fn colour_bar(
    ui: &mut egui::Ui,
    width: f32,
    lo: f64,
    hi: f64,
    label: impl Fn(f64) -> String,
    mark: Option<f64>,
) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
    let steps = 48;
    let mut mesh = egui::Mesh::default();
    for s in 0..steps {
        let x0 = rect.left() + rect.width() * s as f32 / steps as f32;
        let x1 = rect.left() + rect.width() * (s + 1) as f32 / steps as f32;
        mesh.add_colored_rect(
            egui::Rect::from_x_y_ranges(x0..=x1, rect.y_range()),
            heat_colour((s as f64 + 0.5) / steps as f64),
        );
    }
    ui.painter().add(mesh);
    if let Some(m) = mark.filter(|m| hi > lo && *m >= lo && *m <= hi) {
        let x = rect.left() + rect.width() * ((m - lo) / (hi - lo)) as f32;
        ui.painter().line_segment(
            [
                egui::pos2(x, rect.top() - 3.0),
                egui::pos2(x, rect.bottom() + 3.0),
            ],
            egui::Stroke::new(2.0, egui::Color32::WHITE),
        );
    }
    ui.horizontal(|ui| {
        ui.small(label(lo));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.small(label(hi));
        });
    });
    resp
}

/// A run's timeline, and where its columns came from.
fn timeline_of(run: &Run) -> Result<(CollapseTimeline, String), String> {
    let epochs = &run.history.epochs;
    if !epochs.is_empty() {
        let t = CollapseTimeline::of_history(&run.history).map_err(|e| e.to_string())?;
        let (first, last) = (t.columns[0].0, t.columns[t.len() - 1].0);
        let what = format!(
            "{} test evaluation{} (epochs {first}–{last})",
            t.len(),
            if t.len() == 1 { "" } else { "s" }
        );
        return Ok((t, what));
    }
    let Some(stats) = run.views.stats.as_ref() else {
        return Err(if run.data_fits() {
            "encoding the test set…".into()
        } else {
            "the workspace data has another image size: no codes".into()
        });
    };
    let d = &stats.dims;
    let t = CollapseTimeline::from_columns([CollapseColumn {
        epoch: 0,
        step: stats.step,
        kl_per_dim: &d.kl_per_dim,
        code_variance: &d.code_variance,
    }])
    .map_err(|e| e.to_string())?;
    let what = format!(
        "no history: one column from the codes of {} test images (weights of step {})",
        d.images, stats.step
    );
    Ok((t, what))
}

/// The value a cell shows.
fn value(t: &CollapseTimeline, by_variance: bool, j: usize, c: usize) -> f64 {
    if by_variance {
        t.variance_at(j, c)
    } else {
        t.kl_at(j, c)
    }
    .unwrap_or(f64::NAN)
}

/// Draw the controls and one timeline per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(
            &mut ctx.view.explore.collapse_by_variance,
            "colour by activity Var(E[z])",
        )
        .on_hover_text(help::explore::COLLAPSE_BY_VARIANCE);
    });
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let by_var = ctx.view.explore.collapse_by_variance;
    let timelines: Vec<_> = shown.iter().map(|r| timeline_of(r)).collect();
    // One scale for every run, so colours compare across them: from the smallest value
    // (at least FLOOR; with activity colouring, below the threshold) to the largest.
    let values = || {
        timelines
            .iter()
            .flatten()
            .flat_map(|(t, _)| if by_var { &t.variance } else { &t.kl })
            .copied()
            .filter(|v| v.is_finite())
    };
    let top = values().fold(FLOOR, f64::max);
    let bottom = values().fold(top, f64::min).max(FLOOR);
    let mut lo = bottom.log10().floor();
    if by_var {
        lo = lo.min(crate::explore::ACTIVE_UNIT_THRESHOLD.log10() - 1.0);
    }
    let hi = top.log10().max(lo + 1.0);
    let w = column_width(ui, shown.len()).max(160.0);
    let h = ui.available_height();
    ui.horizontal_top(|ui| {
        for (run, t) in shown.iter().zip(&timelines) {
            ui.vertical(|ui| {
                ui.set_width(w);
                run_label(ui, run);
                match t {
                    Ok((t, what)) => column(ui, t, what, by_var, [lo, hi], egui::vec2(w, h)),
                    Err(e) => {
                        ui.weak(e.as_str());
                    }
                }
            });
        }
    });
}

fn column(
    ui: &mut egui::Ui,
    t: &CollapseTimeline,
    what: &str,
    by_var: bool,
    [lo, hi]: [f64; 2],
    size: egui::Vec2,
) {
    let n = t.len();
    let label_w = 30.0;
    let map_w = (size.x - label_w - 8.0).max(40.0);
    let cw = map_w / n as f32;
    let ch = ((size.y - 130.0) / t.dim as f32).clamp(2.0, 18.0);
    let (rect, resp) = ui.allocate_exact_size(
        egui::vec2(label_w + map_w, ch * t.dim as f32),
        egui::Sense::hover(),
    );
    let map = egui::Rect::from_min_size(
        rect.min + egui::vec2(label_w, 0.0),
        egui::vec2(map_w, rect.height()),
    );
    let scale = |v: f64| (v.max(10f64.powf(lo)).log10() - lo) / (hi - lo);
    let mut mesh = egui::Mesh::default();
    let mut dots = egui::Mesh::default();
    for j in 0..t.dim {
        for c in 0..n {
            let cell = egui::Rect::from_min_size(
                map.min + egui::vec2(cw * c as f32, ch * j as f32),
                egui::vec2(cw, ch),
            );
            mesh.add_colored_rect(cell, heat_colour(scale(value(t, by_var, j, c))));
            if !t.active_at(j, c) && cw >= 4.0 && ch >= 4.0 {
                let r = (cw.min(ch) * 0.18).max(1.0);
                dots.add_colored_rect(
                    egui::Rect::from_center_size(cell.center(), egui::vec2(2.0 * r, 2.0 * r)),
                    egui::Color32::from_gray(235),
                );
            }
        }
    }
    let painter = ui.painter();
    painter.add(mesh);
    painter.add(dots);
    // Row labels where they fit.
    let every = ((11.0 / ch).ceil() as usize).max(1);
    for j in (0..t.dim).step_by(every) {
        let collapsed = t.collapsed.contains(&j);
        painter.text(
            egui::pos2(
                rect.left() + label_w - 4.0,
                map.top() + ch * (j as f32 + 0.5),
            ),
            egui::Align2::RIGHT_CENTER,
            format!("z{j}"),
            egui::FontId::proportional(10.0),
            if collapsed {
                ui.visuals().weak_text_color()
            } else {
                ui.visuals().text_color()
            },
        );
    }
    let hovered = resp.hover_pos().filter(|p| map.contains(*p)).map(|p| {
        let c = (((p.x - map.left()) / cw) as usize).min(n - 1);
        let j = (((p.y - map.top()) / ch) as usize).min(t.dim - 1);
        (j, c)
    });
    match hovered {
        Some((j, c)) => {
            let (epoch, step) = t.columns[c];
            let kl = t.kl_at(j, c).unwrap_or(f64::NAN);
            let var = t.variance_at(j, c).unwrap_or(f64::NAN);
            resp.on_hover_text_at_pointer(format!(
                "z{j}, epoch {epoch} (step {step})\nKL {kl:.4} nats\nactivity Var(E[z]) {var:.4} \
                 ({})",
                if t.active_at(j, c) {
                    "active"
                } else {
                    "inactive"
                }
            ));
        }
        None => {
            resp.on_hover_text(help::explore::COLLAPSE_MAP);
        }
    }
    // The evaluations under the map.
    ui.horizontal(|ui| {
        ui.add_space(label_w);
        let (first, last) = (t.columns[0], t.columns[n - 1]);
        ui.small(format!("epoch {}", first.0));
        if n > 1 {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.small(format!("epoch {} (step {})", last.0, last.1));
            });
        }
    });
    ui.small(if by_var {
        "activity Var(E[z]), log scale (mark: threshold)"
    } else {
        "KL per dimension, nats, log scale"
    });
    let mark = by_var.then(|| t.threshold.log10());
    colour_bar(
        ui,
        label_w + map_w,
        lo,
        hi,
        |v| format!("{:.0e}", 10f64.powf(v)),
        mark,
    )
    .on_hover_text(help::explore::COLLAPSE_SCALE);
    let active = t.dim - t.collapsed.len();
    let list = if t.collapsed.is_empty() {
        format!("no dimension collapsed: all {} active", t.dim)
    } else {
        let names: Vec<String> = t
            .collapsed
            .iter()
            .map(|&j| match t.collapsed_since(j) {
                Some(c) if c < n => format!("z{j} (since epoch {})", t.columns[c].0),
                _ => format!("z{j}"),
            })
            .collect();
        format!(
            "collapsed {} of {} ({active} active): {}",
            t.collapsed.len(),
            t.dim,
            names.join(", ")
        )
    };
    ui.add(egui::Label::new(egui::RichText::new(list).small()).wrap())
        .on_hover_text(help::explore::COLLAPSED);
    ui.small(what);
}
