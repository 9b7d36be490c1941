//! Anomaly scores: the library's anomaly report per run, as the `anomaly` command prints it
//! — which score (−ELBO, −IWAE, or a VQ-VAE's reconstruction term) and its caveats, the
//! AUROC of telling the test set from a shifted set built from it, a histogram of both, and
//! the least and most typical test digits.

use eframe::egui;
use egui_plot::{Bar, BarChart, Legend};

use super::map::digit_image;
use super::{ViewCtx, column_width, k_seed_rescore, run_label};
use crate::data::Shift;
use crate::explore::Histogram;
use crate::ui::command::UiCommand;
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::settings;

/// Histogram bins.
const BINS: usize = 40;

/// Digits shown at each end of the ranking.
const SHOWN: usize = 8;

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let classes = ctx.data.num_classes().max(1);
    let ex = &mut ctx.view.explore;
    let mut rescore = false;
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("shifted set");
        let kind = match ex.shift {
            Shift::Invert => 0,
            Shift::Rotate => 1,
            Shift::Noise(_) => 2,
            Shift::Class(_) => 3,
        };
        let names = ["inverted", "rotated 90°", "pixel noise", "held-out class"];
        egui::ComboBox::from_id_salt("shift")
            .selected_text(names[kind])
            .show_ui(ui, |ui| {
                let choices = [
                    Shift::Invert,
                    Shift::Rotate,
                    Shift::Noise(crate::data::shift::DEFAULT_NOISE),
                    Shift::Class(0),
                ];
                for (k, c) in choices.into_iter().enumerate() {
                    if ui.selectable_label(kind == k, names[k]).clicked() {
                        ex.shift = c;
                    }
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(help::explore::SHIFT);
        match &mut ex.shift {
            Shift::Noise(s) => {
                ui.add(
                    egui::DragValue::new(s)
                        .range(settings::SHIFT_NOISE)
                        .speed(0.01)
                        .prefix("σ "),
                )
                .on_hover_text(help::explore::SHIFT);
            }
            Shift::Class(k) => {
                ui.add(
                    egui::DragValue::new(k)
                        .range(0..=(classes - 1).min(255) as u8)
                        .prefix("class "),
                )
                .on_hover_text(help::explore::SHIFT);
            }
            _ => {}
        }
        rescore = k_seed_rescore(
            ui,
            "IWAE k",
            &mut ex.anomaly_iwae_k,
            settings::ANOMALY_IWAE_K,
            help::explore::SCORE_IWAE,
            &mut ex.anomaly_seed,
            help::explore::SCORE_SEED,
        );
    });
    if rescore {
        ctx.push(UiCommand::Rescore);
    }
}

/// Draw the controls and one column per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx);
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let w = column_width(ui, shown.len()).max(160.0);
    ui.horizontal_top(|ui| {
        for run in shown {
            ui.vertical(|ui| {
                ui.set_width(w);
                run_label(ui, run);
                column(ui, ctx, run, w);
            });
        }
    });
}

fn column(ui: &mut egui::Ui, ctx: &ViewCtx<'_>, run: &Run, w: f32) {
    if let Some(e) = run.views.failed.get(&crate::ui::decoder::ViewKey::Anomaly) {
        ui.colored_label(ui.visuals().warn_fg_color, format!("not scored: {e}"));
    }
    let Some(result) = &run.views.anomaly else {
        ui.weak(if run.data_fits() {
            "scoring the test set…"
        } else {
            "the workspace data has another image size: nothing to score"
        });
        return;
    };
    let rep = &result.report;
    ui.horizontal(|ui| {
        ui.label("AUROC").on_hover_text(help::explore::AUROC);
        ui.heading(
            rep.auroc
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
        )
        .on_hover_text(help::explore::AUROC);
    });
    // What the scores are and what qualifies them: the `anomaly` command's words.
    ui.label(format!("score: {}", rep.kind.describe()))
        .on_hover_text(help::explore::SCORE_KIND);
    for note in &rep.caveats {
        ui.colored_label(ui.visuals().warn_fg_color, format!("note: {note}"));
    }
    let stale = run.shown().is_some_and(|s| s.step != result.step);
    ui.small(format!(
        "{}, nats: test {:.1} (n = {}), {} {:.1} (n = {}); weights of step {}{}; {:.1} s",
        rep.kind.label(),
        rep.mean_normal(),
        rep.normal.len(),
        rep.query.shift,
        rep.mean_shifted(),
        rep.shifted.len(),
        result.step,
        if stale { " (newer exist: Rescore)" } else { "" },
        result.micros as f64 / 1e6
    ));
    if let Some((lo, hi)) = Histogram::span(&[&rep.normal, &rep.shifted]) {
        let a = Histogram::new(&rep.normal, lo, hi, BINS);
        let b = Histogram::new(&rep.shifted, lo, hi, BINS);
        let bars = |h: &Histogram, total: usize| -> Vec<Bar> {
            h.counts
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    Bar::new(
                        h.lo + h.width * (i as f64 + 0.5),
                        c as f64 / total.max(1) as f64,
                    )
                    .width(h.width)
                })
                .collect()
        };
        super::plot(ctx, ("anomaly-hist", run.id.0))
            .width(w)
            .height(140.0)
            .legend(Legend::default())
            .x_axis_label("score (nats)")
            .show(ui, |p| {
                p.bar_chart(
                    BarChart::new("test", bars(&a, rep.normal.len()))
                        .color(egui::Color32::from_rgb(31, 119, 180)),
                );
                p.bar_chart(
                    BarChart::new(rep.query.shift.to_string(), bars(&b, rep.shifted.len()))
                        .color(egui::Color32::from_rgb(255, 127, 14)),
                );
            })
            .response
            .on_hover_text(help::explore::HISTOGRAM);
    }
    // The report's ranking of every test image, as `anomaly` lists it.
    // Two rows of SHOWN images, each under its title, in the width and the height left.
    let title = ui.text_style_height(&egui::TextStyle::Small) + 2.0 * ui.spacing().item_spacing.y;
    let by_height = (ui.available_height() - 2.0 * title) / 2.0 - 4.0;
    let side = ((w - 10.0) / SHOWN as f32 - 4.0)
        .min(by_height)
        .clamp(20.0, 140.0);
    for (title, ends) in [
        ("least typical", rep.most_anomalous(SHOWN)),
        ("most typical", rep.most_typical(SHOWN)),
    ] {
        ui.small(title).on_hover_text(help::explore::TYPICAL);
        ui.horizontal(|ui| {
            for (i, score) in ends {
                digit_image(ui, ctx, i, side)
                    .on_hover_text(format!("test {} #{i}: {score:.1} nats", ctx.data.noun()));
            }
        });
    }
}
