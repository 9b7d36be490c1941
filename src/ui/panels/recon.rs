//! Reconstructions (focus layout): a fixed row of test digits above the focused run's
//! reconstructions of them.

use eframe::egui;

use super::ViewCtx;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::tiles::{self, TileView};

/// Draw the panel.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    let Some(run) = runs.focused_run() else {
        return;
    };
    let s = &mut *ctx.view;
    ui.horizontal(|ui| {
        let h = ui
            .heading("Reconstructions")
            .on_hover_text(help::figure::RECON);
        ui.add(
            egui::DragValue::new(&mut s.recon_count)
                .range(crate::ui::settings::RECON_COUNT)
                .suffix(format!(" {}", ctx.data.nouns())),
        )
        .labelled_by(h.id)
        .on_hover_text(help::RECON_COUNT);
    });
    ui.small(format!(
        "top: test {} · bottom: reconstructions of their posterior means",
        ctx.data.nouns()
    ));
    let img = run.image(ViewKey::Recon);
    let cols = img.map_or(ctx.view.recon_count, |i| (i.n / 2).max(1));
    let w = ui.available_width();
    let r = tiles::show(
        ui,
        TileView {
            key: run.id.painter_key(ViewKey::Recon),
            version: run.image_version(ViewKey::Recon),
            cols,
            rows: 2,
            max_size: egui::vec2(w, 120.0),
            colormap: ctx.view.colormap,
            highlight: None,
            frame: None,
            first: 0,
        },
        img,
    )
    .on_hover_text(help::figure::RECON);
    super::export_menu(&r, ctx.cmds, run.id, ViewKey::Recon, cols, false);
}
