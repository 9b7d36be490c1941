//! Lock-step latents: one slider set (one per dimension of the focused run, the most
//! informative first by the library's one order — mean KL, or a VQ-VAE's code variance —
//! inactive dimensions marked) decoded by every run whose latent size matches, and one
//! image per run. "Encode digit" ("Encode image" on data other than MNIST's digits) makes
//! every run show its own code of the same test image.

use eframe::egui;

use super::{ViewCtx, run_label};
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::fit::Tiles;
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::tiles::{self, TileView};
use crate::ui::views::dimension_order;
use crate::variant::VariantKind;

/// Draw the buttons and the sliders, in at most `max_height` points.
pub fn show_controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, max_height: f32) {
    let runs = ctx.runs;
    let cursor = &runs.cursor;
    let focused = runs.focused_run();
    // "digit" on MNIST, "image" on other data.
    let noun = ctx.data.noun();
    ui.heading("Latent sliders");
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Randomize")
            .on_hover_text(help::RANDOMIZE)
            .clicked()
        {
            ctx.push(UiCommand::RandomizeLatent);
        }
        if ui.button("Zero").on_hover_text(help::ZERO).clicked() {
            ctx.push(UiCommand::ZeroLatent);
        }
        if ui
            .button(format!("Encode {noun}"))
            .on_hover_text(help::ENCODE_DIGIT)
            .clicked()
        {
            ctx.push(UiCommand::EncodeDigit(cursor.digit));
        }
        // The digits whose codes every run computes.
        let last = runs.digit_count() - 1;
        let mut d = cursor.digit;
        let l = ui.label(format!("test {noun}"));
        if ui
            .add(egui::DragValue::new(&mut d).range(0..=last).prefix("#"))
            .labelled_by(l.id)
            .on_hover_text(help::TEST_DIGIT)
            .changed()
        {
            ctx.push(UiCommand::EncodeDigit(d));
        }
        if ui.button("Next").on_hover_text(help::NEXT_DIGIT).clicked() {
            ctx.push(UiCommand::EncodeDigit((cursor.digit + 1) % (last + 1)));
        }
        super::map::aligned_toggle(ui, &mut ctx.view.explore.aligned, runs);
        if runs
            .iter()
            .any(|r| matches!(r.config.variant, VariantKind::Cvae | VariantKind::M2))
        {
            let mut l = cursor.label;
            let t = ui.label("decode as");
            if ui
                .add(egui::DragValue::new(&mut l).range(0..=9))
                .labelled_by(t.id)
                .on_hover_text(help::DECODE_AS)
                .changed()
            {
                ctx.push(UiCommand::SetLabel(l));
            }
        }
    });
    let Some(focused) = focused else {
        return;
    };
    ui.horizontal(|ui| {
        ui.small(if cursor.follow_digit {
            format!(
                "following test {noun} #{}: each run shows its own code; sliders show",
                cursor.digit
            )
        } else {
            "one latent vector for every run of this size; sliders set by".to_string()
        });
        run_label(ui, focused);
    });
    if cursor.direction.is_set() {
        ui.horizontal(|ui| {
            let mut t = cursor.direction.t;
            let (a, b) = (cursor.direction.a.len(), cursor.direction.b.len());
            if ui
                .add(
                    egui::Slider::new(&mut t, -1.0..=2.0)
                        .text(format!("along A − B (B: {b}, A: {a} {})", ctx.data.nouns()))
                        .max_decimals(2),
                )
                .on_hover_text(help::ALONG)
                .changed()
            {
                ctx.push(UiCommand::SetAlong(t));
            }
            if ui.small_button("Clear").clicked() {
                ctx.push(UiCommand::ClearDirection);
            }
        });
    }
    let values = cursor.slider_values(Some(focused));
    let d = values.len();
    let stats = focused
        .views
        .stats
        .as_ref()
        .map(|s| &s.dims)
        .filter(|s| s.dim() == d);
    let order = if stats.is_some() {
        dimension_order(focused)
    } else {
        (0..d).collect()
    };
    egui::ScrollArea::vertical()
        .id_salt("sliders")
        .max_height((max_height - 90.0).max(120.0))
        .show(ui, |ui| {
            for &j in &order {
                let mut v = values[j];
                ui.horizontal(|ui| {
                    ui.spacing_mut().slider_width = 110.0;
                    let r = ui
                        .add(
                            egui::Slider::new(&mut v, -3.0..=3.0)
                                .text(format!("z{j}"))
                                .max_decimals(2)
                                // Codes beyond ±3 are shown as they are, not clamped.
                                .clamping(egui::SliderClamping::Never),
                        )
                        .on_hover_text(help::SLIDER);
                    // egui may round the shown value to the displayed decimals and report
                    // that as a change; only a move larger than the rounding is the user's,
                    // so a followed digit code is not overwritten.
                    if r.changed() && (v - values[j]).abs() > 0.005 {
                        ctx.push(UiCommand::SetLatent(j, v));
                    }
                    if let Some(st) = stats
                        && let Some(v) = st.score_of(j)
                    {
                        let inactive = !st.is_active(j);
                        // What the order is by: KL, or a VQ-VAE's code variance.
                        let text = format!(
                            "{} {v:.2}{}",
                            st.score.name(),
                            if inactive { " · inactive" } else { "" }
                        );
                        if inactive {
                            ui.weak(text);
                        } else {
                            ui.small(text);
                        }
                    }
                });
            }
        });
}

/// One run's decoded slider image (or why there is none), framed in its colour, fitting
/// `space` points.
fn run_image(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, run: &Run, space: egui::Vec2) {
    run_label(ui, run);
    match (&run.views.issue, run.image(ViewKey::Slider)) {
        (Some(why), _) => {
            let side = space.min_elem();
            tiles::placeholder(ui, egui::vec2(side, side), why, Some(run.colour));
        }
        (_, img) => {
            let r = tiles::show(
                ui,
                TileView {
                    key: run.id.painter_key(ViewKey::Slider),
                    version: run.image_version(ViewKey::Slider),
                    cols: 1,
                    rows: 1,
                    max_size: space,
                    colormap: ctx.view.colormap,
                    highlight: None,
                    frame: Some(run.colour),
                    first: 0,
                },
                img,
            )
            .on_hover_text(help::figure::SLIDER_IMAGE);
            super::export_menu(&r, ctx.cmds, run.id, ViewKey::Slider, 1, false);
        }
    }
    if let Some(e) = run.pinned {
        let shown = run.shown().map(|s| s.epoch);
        ui.small(match shown {
            Some(s) if s == e => format!("epoch {e}"),
            Some(s) => format!("epoch {s} (nearest kept ≤ {e})"),
            None => format!("no epoch ≤ {e}"),
        });
    }
}

/// Draw every shown run's image of the shared latent point, sharing the space left in
/// `ui`: each at the largest integer multiple of its pixels that fits its share.
pub fn show_images(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let spec = Tiles::single(super::image_px(&shown, ctx.data));
    // A pinned run names its epoch under its image.
    let below = if shown.iter().any(|r| r.pinned.is_some()) {
        ui.text_style_height(&egui::TextStyle::Small) + ui.spacing().item_spacing.y
    } else {
        0.0
    };
    let layout = super::share_space(ui, shown.len(), true, 0.0, spec);
    let space = (layout.share - egui::vec2(0.0, below)).max(egui::Vec2::ZERO);
    super::arranged(ui, &shown, layout.across, |ui, run| {
        run_image(ui, ctx, run, space)
    });
}
