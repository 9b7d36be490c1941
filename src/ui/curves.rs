//! Loss curves: train per step (smoothed) and test per epoch for total, reconstruction and
//! KL; the KL weight schedule in a linked strip below; a log-scale toggle.

use eframe::egui;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use super::{History, Settings};

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

/// Draw the curves.
/// `bound`: whether the run's variant has a likelihood bound (else no −ELBO curve).
pub fn show(ui: &mut egui::Ui, s: &mut Settings, h: &History, bound: bool) {
    ui.horizontal(|ui| {
        ui.heading("Loss curves");
        ui.checkbox(&mut s.log_scale, "log scale");
        ui.add(egui::Slider::new(&mut s.smoothing, 0.0..=0.99).text("smoothing"));
    });
    let log = s.log_scale;
    let alpha = s.smoothing as f64;
    let link = ui.scope_id().with("loss-x");
    let height = (ui.available_height() - 110.0).max(100.0);
    Plot::new("loss")
        .height(height)
        .legend(Legend::default())
        .link_axis(link, [true, false])
        .x_axis_label("step")
        .y_axis_label(if log { "log10 nats" } else { "nats / image" })
        .show(ui, |p| {
            let series = [("train loss", 1usize), ("train rec", 2), ("train KL", 3)];
            for (name, col) in series {
                let pts = smooth(h.steps.iter().map(|r| [r[0], r[col]]), alpha);
                p.line(Line::new(name, PlotPoints::from(scale(pts, log))));
            }
            let test = |f: &dyn Fn(&crate::train::EvalMetrics) -> f64| -> Vec<[f64; 2]> {
                scale(
                    h.epochs
                        .iter()
                        .map(|(_, st, m)| [*st as f64, f(m)])
                        .collect(),
                    log,
                )
            };
            for (name, f) in [
                (
                    "test -ELBO",
                    &(|m: &crate::train::EvalMetrics| m.neg_elbo) as &dyn Fn(&_) -> f64,
                ),
                ("test rec", &|m: &crate::train::EvalMetrics| m.rec),
                ("test KL", &|m: &crate::train::EvalMetrics| m.kl),
            ] {
                if name == "test -ELBO" && !bound {
                    continue;
                }
                let pts = test(f);
                p.line(Line::new(name, PlotPoints::from(pts.clone())));
                p.points(Points::new(name, PlotPoints::from(pts)).radius(3.0));
            }
        });
    Plot::new("kl-weight")
        .height(70.0)
        .link_axis(link, [true, false])
        .y_axis_label("KL weight")
        .include_y(0.0)
        .include_y(1.05)
        .show(ui, |p| {
            p.line(Line::new(
                "KL weight",
                PlotPoints::from(h.kl_weight.clone()),
            ));
        });
}
