//! Paths between two test digits: every shown run decodes the path between its own codes
//! of the two digits (linear or spherical), as a strip and as an animation.

use eframe::egui;

use super::map::digit_image;
use super::{ViewCtx, anim_frame, export_menu, run_label};
use crate::explore::PathKind;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::settings;
use crate::ui::tiles::{self, TileView};

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    // The digits every run has codes of.
    let n = ctx.runs.digit_count();
    let digit = ctx.runs.cursor.digit;
    let noun = ctx.data.noun();
    let ex = &mut ctx.view.explore;
    ui.horizontal_wrapped(|ui| {
        for (name, v) in [("from", &mut ex.path_from), ("to", &mut ex.path_to)] {
            let l = ui.label(name);
            ui.add(
                egui::DragValue::new(v)
                    .range(0..=n.saturating_sub(1))
                    .prefix("#"),
            )
            .labelled_by(l.id)
            .on_hover_text(help::explore::PATH_END);
            if ui
                .small_button("cursor")
                .on_hover_text(format!("Use the cursor's test {noun} (#{digit})."))
                .clicked()
            {
                *v = digit;
            }
        }
        if ui.button("swap").on_hover_text("Swap the ends.").clicked() {
            std::mem::swap(&mut ex.path_from, &mut ex.path_to);
        }
        ui.add(egui::Slider::new(&mut ex.path_steps, settings::PATH_STEPS).text("steps"))
            .on_hover_text(help::explore::PATH_STEPS);
        ui.radio_value(&mut ex.path_kind, PathKind::Linear, "linear")
            .on_hover_text(help::explore::PATH_KIND);
        ui.radio_value(&mut ex.path_kind, PathKind::Spherical, "spherical (slerp)")
            .on_hover_text(help::explore::PATH_KIND);
        ui.checkbox(&mut ex.animate, "animate")
            .on_hover_text(help::explore::ANIMATE);
        ui.add(egui::Slider::new(&mut ex.fps, settings::FPS).text("fps"))
            .on_hover_text(help::explore::FPS);
    });
}

/// Draw the controls and one path per shown run (one row each).
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx);
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let ex = ctx.view.explore.clone();
    let (noun, nouns) = (ctx.data.noun(), ctx.data.nouns());
    let steps = settings::clamp_to(ex.path_steps, &settings::PATH_STEPS);
    let frame = anim_frame(ui, steps, ex.fps, ex.animate);
    let row_h = ((ui.available_height() - 10.0) / shown.len() as f32 - 30.0).clamp(40.0, 160.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        for run in shown {
            run_label(ui, run);
            ui.horizontal(|ui| {
                let side = row_h;
                digit_image(ui, ctx, ex.path_from, side * 0.8)
                    .on_hover_text(format!("test {noun} #{} (the start)", ex.path_from));
                let avail = ui.available_width() - side * 1.9 - 30.0;
                let img = run.image(ViewKey::Path);
                let k = img.map_or(steps, |i| i.n);
                if let Some(why) = &run.views.issue {
                    tiles::placeholder(ui, egui::vec2(avail, side), why, Some(run.colour));
                    return;
                }
                let strip = tiles::show(
                    ui,
                    TileView {
                        key: run.id.painter_key(ViewKey::Path),
                        version: run.image_version(ViewKey::Path),
                        cols: k,
                        rows: 1,
                        max_size: egui::vec2(avail, side),
                        colormap: ctx.view.colormap,
                        highlight: ex.animate.then_some(frame as u32),
                        frame: Some(run.colour),
                        first: 0,
                    },
                    img,
                )
                .on_hover_text(help::explore::PATH_STRIP);
                export_menu(&strip, ctx.cmds, run.id, ViewKey::Path, k, true);
                digit_image(ui, ctx, ex.path_to, side * 0.8)
                    .on_hover_text(format!("test {noun} #{} (the end)", ex.path_to));
                ui.add_space(8.0);
                let big = tiles::show(
                    ui,
                    TileView {
                        key: run.id.painter_key(ViewKey::Path) | 0x100,
                        version: run.image_version(ViewKey::Path),
                        cols: 1,
                        rows: 1,
                        max_size: egui::vec2(side, side),
                        colormap: ctx.view.colormap,
                        highlight: None,
                        frame: Some(run.colour),
                        first: if ex.animate { frame as u32 } else { 0 },
                    },
                    img,
                )
                .on_hover_text(help::explore::PATH_STRIP);
                // One frame at a time: no tile to search the neighbours of.
                super::image_menu(&big, ctx.cmds, run.id, ViewKey::Path, k, true, false);
            });
        }
        ui.small(format!(
            "{} path from test {noun} #{} to #{}, {steps} decodes; each run uses its own codes of the two {nouns}",
            match ex.path_kind {
                PathKind::Linear => "linear",
                PathKind::Spherical => "spherical",
            },
            ex.path_from,
            ex.path_to
        ));
    });
}
