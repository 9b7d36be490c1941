//! Traversals: one row per latent dimension (the most informative first, in the order
//! `traverse` prints its rows), swept over a stated range with every other coordinate at
//! the cursor; animated, one column at a time.

use eframe::egui;

use super::{ViewCtx, anim_frame, column_width, export_menu, run_label};
use crate::explore::RangeMode;
use crate::ui::decoder::ViewKey;
use crate::ui::fit;
use crate::ui::help;
use crate::ui::settings::{self, clamp_to};
use crate::ui::tiles::{self, TileView};
use crate::ui::views::traversal_dims;

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let ex = &mut ctx.view.explore;
    ui.horizontal_wrapped(|ui| {
        ui.add(
            egui::Slider::new(&mut ex.traversal_rows, settings::TRAVERSAL_ROWS).text("dimensions"),
        )
        .on_hover_text(help::explore::TRAVERSAL_ROWS);
        ui.add(
            egui::Slider::new(&mut ex.traversal_steps, settings::TRAVERSAL_STEPS).text("values"),
        )
        .on_hover_text(help::explore::TRAVERSAL_STEPS);
        let l = ui.label("range");
        let r = &mut ex.traversal_range;
        let kind = match r {
            RangeMode::PriorQuantile(_) => 0,
            RangeMode::PosteriorSigma(_) => 1,
            RangeMode::MinMax => 2,
        };
        egui::ComboBox::from_id_salt("traversal-range")
            .selected_text(
                [
                    "prior quantiles",
                    "±kσ of the codes",
                    "min–max of the codes",
                ][kind],
            )
            .show_ui(ui, |ui| {
                if ui.selectable_label(kind == 0, "prior quantiles").clicked() {
                    *r = RangeMode::PriorQuantile(0.05);
                }
                if ui.selectable_label(kind == 1, "±kσ of the codes").clicked() {
                    *r = RangeMode::PosteriorSigma(2.0);
                }
                if ui
                    .selectable_label(kind == 2, "min–max of the codes")
                    .clicked()
                {
                    *r = RangeMode::MinMax;
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(help::explore::TRAVERSAL_RANGE);
        match r {
            RangeMode::PriorQuantile(q) => {
                ui.add(
                    egui::DragValue::new(q)
                        .range(settings::TRAVERSAL_QUANTILE)
                        .speed(0.005)
                        .prefix("q "),
                )
                .on_hover_text(help::explore::TRAVERSAL_RANGE);
            }
            RangeMode::PosteriorSigma(k) => {
                ui.add(
                    egui::DragValue::new(k)
                        .range(settings::TRAVERSAL_SIGMA)
                        .speed(0.05)
                        .prefix("k "),
                )
                .on_hover_text(help::explore::TRAVERSAL_RANGE);
            }
            RangeMode::MinMax => {}
        }
        ui.checkbox(&mut ex.animate, "animate")
            .on_hover_text(help::explore::ANIMATE);
    });
    ui.small(format!("range: {}", ex.traversal_range.describe()));
}

/// Draw the controls and one traversal per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx);
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let ex = ctx.view.explore.clone();
    let steps = clamp_to(ex.traversal_steps, &settings::TRAVERSAL_STEPS);
    let frame = anim_frame(ui, steps, ex.fps, ex.animate);
    let w = column_width(ui, shown.len()).max(120.0);
    let h = ui.available_height() - 10.0;
    ui.horizontal_top(|ui| {
        for run in shown {
            ui.vertical(|ui| {
                ui.set_width(w);
                run_label(ui, run);
                if let Some(why) = &run.views.issue {
                    tiles::placeholder(ui, egui::vec2(w, w), why, Some(run.colour));
                    return;
                }
                let dims = traversal_dims(run, ex.traversal_rows);
                let img = run.image(ViewKey::Traversal);
                let rows = img.map_or(dims.len(), |i| i.n / steps.max(1)).max(1);
                let label_w = 70.0;
                // The largest integer multiple of the images' pixels that fits.
                let space = egui::vec2(w - label_w, h - 40.0);
                let fitted = fit::fit(
                    space,
                    fit::Tiles::new(super::image_px(&[run], ctx.data), steps, rows),
                    ui.ctx().pixels_per_point(),
                );
                ui.horizontal_top(|ui| {
                    // Which dimension each row sweeps, and what ranks it (KL, or a VQ-VAE's
                    // code variance): painted beside each row once the grid's place is known.
                    let (labels, _) = ui.allocate_exact_size(
                        egui::vec2(label_w, fitted.size.y),
                        egui::Sense::hover(),
                    );
                    let grid = tiles::show(
                        ui,
                        TileView {
                            key: run.id.painter_key(ViewKey::Traversal),
                            version: run.image_version(ViewKey::Traversal),
                            cols: steps,
                            rows,
                            max_size: space,
                            colormap: ctx.view.colormap,
                            highlight: None,
                            frame: Some(run.colour),
                            first: 0,
                        },
                        img,
                    )
                    .on_hover_text(help::explore::TRAVERSAL);
                    export_menu(&grid, ctx.cmds, run.id, ViewKey::Traversal, steps, true);
                    let stats = run.views.stats.as_ref().map(|s| &s.dims);
                    let row_h = grid.rect.height() / rows as f32;
                    for (r, &j) in dims.iter().take(rows).enumerate() {
                        let score = stats
                            .and_then(|s| Some((s.score.name(), s.score_of(j)?)))
                            .map(|(name, v)| format!("  {name} {v:.2}"))
                            .unwrap_or_default();
                        // On data with known factors: the factor the dimension captures best.
                        let factor = stats
                            .and_then(|s| s.best_factor.get(j).copied().flatten())
                            .and_then(|(f, share)| {
                                crate::data::shapes::FACTOR_NAMES
                                    .get(f)
                                    .map(|name| format!("\n{name} {share:.2}"))
                            })
                            .unwrap_or_default();
                        ui.painter().text(
                            egui::pos2(labels.left(), grid.rect.top() + row_h * (r as f32 + 0.5)),
                            egui::Align2::LEFT_CENTER,
                            format!("z{j}{score}{factor}"),
                            egui::FontId::proportional(11.0),
                            ui.visuals().weak_text_color(),
                        );
                    }
                    if ex.animate {
                        // The current column, ringed.
                        let r = grid.rect;
                        let cw = r.width() / steps as f32;
                        let col = egui::Rect::from_min_size(
                            egui::pos2(r.left() + cw * frame as f32, r.top()),
                            egui::vec2(cw, r.height()),
                        );
                        ui.painter().rect_stroke(
                            col,
                            1.0,
                            egui::Stroke::new(2.0, run.colour),
                            egui::StrokeKind::Inside,
                        );
                    }
                });
            });
        }
    });
}
