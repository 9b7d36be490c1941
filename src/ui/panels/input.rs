//! The user's own input: a drawing canvas of the data's image size (mouse or pen; the
//! right button erases) or an opened/dropped PNG or JPEG. Every run encodes it; its code
//! drives the sliders; each run's reconstruction and score are shown live.

use eframe::egui;

use super::{ViewCtx, column_width, run_label};
use crate::ui::command::UiCommand;
use crate::ui::help;
use crate::ui::run::Run;

/// Stamp a round brush of `radius` pixels at `(x, y)` (pixel units) into `canvas`
/// (`rows × cols`): ink `1` at the centre falling to 0 at the rim, kept as the maximum of
/// old and new, and rounded to 8-bit steps so that a saved PNG holds exactly these values.
/// `erase` clears instead.
pub fn stamp(
    canvas: &mut [f32],
    rows: usize,
    cols: usize,
    x: f32,
    y: f32,
    radius: f32,
    erase: bool,
) {
    let r = radius.max(0.3);
    let (x0, x1) = (
        (x - r - 1.0).floor().max(0.0) as usize,
        (x + r + 1.0).ceil() as usize,
    );
    let (y0, y1) = (
        (y - r - 1.0).floor().max(0.0) as usize,
        (y + r + 1.0).ceil() as usize,
    );
    for py in y0..y1.min(rows) {
        for px in x0..x1.min(cols) {
            let d = ((px as f32 + 0.5 - x).powi(2) + (py as f32 + 0.5 - y).powi(2)).sqrt();
            let ink = (1.0 - (d / (r + 0.5)).powi(2)).clamp(0.0, 1.0);
            if ink <= 0.0 {
                continue;
            }
            let v = &mut canvas[py * cols + px];
            *v = if erase {
                (*v * (1.0 - ink)).clamp(0.0, 1.0)
            } else {
                v.max(ink.min(1.0))
            };
            *v = (*v * 255.0).round() / 255.0;
        }
    }
}

/// Draw the canvas and the runs' views of the input.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let (rows, cols) = (ctx.data.rows(), ctx.data.cols());
    let n = rows * cols;
    if ctx.view.explore.canvas.len() != n {
        ctx.view.explore.canvas = vec![0.0; n];
    }
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(300.0);
            canvas(ui, ctx, rows, cols);
            ui.horizontal_wrapped(|ui| {
                if ui
                    .button("Clear")
                    .on_hover_text("Clear the canvas and forget the input.")
                    .clicked()
                {
                    ctx.view.explore.canvas = vec![0.0; n];
                    ctx.push(UiCommand::ClearInput);
                }
                if ui
                    .button("Open image…")
                    .on_hover_text(help::explore::OPEN_IMAGE)
                    .clicked()
                {
                    ctx.push(UiCommand::PickInput);
                }
                ui.add(
                    egui::Slider::new(&mut ctx.view.explore.brush, crate::ui::settings::BRUSH)
                        .text("brush"),
                )
                .on_hover_text(help::explore::BRUSH);
                ui.checkbox(&mut ctx.view.explore.fit_drawing, "centre like MNIST")
                    .on_hover_text(help::explore::FIT_DRAWING);
            });
            let src = &ctx.runs.input_source;
            let shape = ctx.data.shape();
            if let Some(px) = ctx.runs.input.as_ref().filter(|p| p.len() == shape.len()) {
                ui.horizontal(|ui| {
                    // What the runs encode (the drawing after fitting, or the image).
                    let img = super::host_image(px, shape);
                    let tex =
                        ui.ctx()
                            .load_texture("input-encoded", img, egui::TextureOptions::NEAREST);
                    let size = super::image_size(ui, shape, egui::vec2(56.0, 56.0));
                    ui.add(egui::Image::new((tex.id(), size)))
                        .on_hover_text(help::explore::ENCODED);
                    ui.small(format!("encoded: {src}"));
                });
                if ctx.runs.cursor.follow_input {
                    ui.small("the sliders, grid and traversals follow each run's code of it");
                } else if ui
                    .button("Show its code on the sliders")
                    .on_hover_text(help::explore::FOLLOW_INPUT)
                    .clicked()
                {
                    ctx.push(UiCommand::FollowInput);
                }
            } else {
                ui.weak(if ctx.data.is_digits() {
                    "draw a digit, open an image, or drop one on the window"
                } else {
                    "draw, open an image, or drop one on the window"
                });
            }
        });
        ui.separator();
        let shown = ctx.shown();
        let w = column_width(ui, shown.len()).clamp(120.0, 300.0);
        ui.horizontal_top(|ui| {
            for run in shown {
                ui.vertical(|ui| {
                    ui.set_width(w);
                    run_label(ui, run);
                    result(ui, ctx, run, w);
                });
            }
        });
    });
}

fn canvas(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, rows: usize, cols: usize) {
    // An integer multiple of the image's pixels, so each pixel drawn is an equal square.
    let size = super::image_size(
        ui,
        crate::data::ImageShape::grey(rows, cols),
        egui::vec2(290.0, 290.0),
    );
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::drag());
    let response = response.on_hover_text(help::explore::CANVAS);
    let ex = &mut ctx.view.explore;
    let mut changed = false;
    if let Some(pos) = response.interact_pointer_pos()
        && (response.dragged() || response.drag_started() || response.is_pointer_button_down_on())
    {
        let erase = ui.input(|i| i.pointer.secondary_down());
        let x = (pos.x - rect.left()) / rect.width() * cols as f32;
        let y = (pos.y - rect.top()) / rect.height() * rows as f32;
        // Fill the gap since the last point of the stroke.
        let last_id = egui::Id::unique("canvas-last");
        let last: Option<egui::Pos2> = ui.ctx().data(|m| m.get_temp(last_id));
        let from = last.unwrap_or(egui::pos2(x, y));
        let steps = (from.distance(egui::pos2(x, y)) / 0.3).ceil().max(1.0) as usize;
        for s in 1..=steps {
            let t = s as f32 / steps as f32;
            let p = from.lerp(egui::pos2(x, y), t);
            stamp(&mut ex.canvas, rows, cols, p.x, p.y, ex.brush, erase);
        }
        ui.ctx()
            .data_mut(|m| m.insert_temp(last_id, egui::pos2(x, y)));
        changed = true;
    } else {
        ui.ctx()
            .data_mut(|m| m.remove::<egui::Pos2>(egui::Id::unique("canvas-last")));
    }
    let img = super::host_image(&ex.canvas, crate::data::ImageShape::grey(rows, cols));
    let tex = ui
        .ctx()
        .load_texture("input-canvas", img, egui::TextureOptions::NEAREST);
    ui.painter().image(
        tex.id(),
        rect,
        egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
        egui::Color32::WHITE,
    );
    ui.painter().rect_stroke(
        rect,
        2.0,
        egui::Stroke::new(1.0, egui::Color32::GRAY),
        egui::StrokeKind::Outside,
    );
    if changed {
        let pixels = if ex.fit_drawing {
            crate::data::input::fit_ink(
                &crate::data::input::to_grey(&ex.canvas, rows, cols),
                rows,
                cols,
            )
        } else {
            ex.canvas.clone()
        };
        ctx.push(UiCommand::SetInput {
            pixels,
            source: "drawing".into(),
        });
    }
}

fn result(ui: &mut egui::Ui, ctx: &ViewCtx<'_>, run: &Run, w: f32) {
    let Some(inp) = &run.views.input else {
        ui.weak(if ctx.runs.input.is_none() {
            "no input yet"
        } else if run.data_fits() {
            "encoding…"
        } else {
            "this model takes another image size"
        });
        return;
    };
    let shape = ctx.data.shape();
    if inp.recon.len() == shape.len() {
        let img = super::host_image(&inp.recon, shape);
        let tex = ui.ctx().load_texture(
            format!("input-recon-{}", run.id.0),
            img,
            egui::TextureOptions::NEAREST,
        );
        let side = (w - 10.0).min(260.0);
        let size = super::image_size(ui, shape, egui::vec2(side, side));
        ui.add(egui::Image::new((tex.id(), size)))
            .on_hover_text(help::explore::INPUT_RESULT);
    }
    // Only against the same kind of score over the whole test set.
    let pct = run
        .views
        .anomaly
        .as_ref()
        .map(|a| &a.report)
        .filter(|r| r.kind == inp.kind && !matches!(r.query.shift, crate::data::Shift::Class(_)))
        .map(|r| {
            let worse = r.normal.iter().filter(|&&s| s >= inp.score).count();
            100.0 * worse as f64 / r.normal.len().max(1) as f64
        });
    ui.label(format!("{} {:.1} nats", inp.kind.label(), inp.score))
        .on_hover_text(help::explore::INPUT_RESULT);
    if let Some(p) = pct {
        ui.small(format!(
            "{p:.0}% of test {} score as high or higher",
            ctx.data.nouns()
        ));
    }
    let code: Vec<String> = inp
        .code
        .iter()
        .take(8)
        .map(|v| format!("{v:+.2}"))
        .collect();
    ui.small(format!(
        "code: {}{}",
        code.join(" "),
        if inp.code.len() > 8 { " …" } else { "" }
    ));
}
