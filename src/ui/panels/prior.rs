//! Prior samples: decodes of z ~ N(0, I) from the same noise in every run of the same
//! latent size, resampled on demand.

use eframe::egui;

use super::{ViewCtx, run_label};
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::fit::Tiles;
use crate::ui::help;
use crate::ui::tiles::{self, TileView};

/// Draw one 8×8 grid of samples per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.horizontal(|ui| {
        ui.heading("Prior samples")
            .on_hover_text(help::figure::PRIOR);
        if ui
            .button("Resample")
            .on_hover_text(help::RESAMPLE)
            .clicked()
        {
            ctx.push(UiCommand::ResamplePrior);
        }
        ui.weak("the same noise in every run");
    });
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let several = shown.len() > 1;
    // The runs share the space left, each grid at an integer multiple of its pixels.
    let spec = Tiles::new(super::image_px(&shown, ctx.data), 8, 8);
    let layout = super::share_space(ui, shown.len(), several, 0.0, spec);
    super::arranged(ui, &shown, layout.across, |ui, run| {
        if several {
            run_label(ui, run);
        }
        let r = tiles::show(
            ui,
            TileView {
                key: run.id.painter_key(ViewKey::Prior),
                version: run.image_version(ViewKey::Prior),
                cols: 8,
                rows: 8,
                max_size: layout.share,
                colormap: ctx.view.colormap,
                highlight: None,
                frame: several.then_some(run.colour),
                first: 0,
            },
            run.image(ViewKey::Prior),
        )
        .on_hover_text(help::figure::PRIOR);
        super::export_menu(&r, ctx.cmds, run.id, ViewKey::Prior, 8, false);
    });
}
