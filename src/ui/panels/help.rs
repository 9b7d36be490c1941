//! Help: the toolbar's Help, About-variant and theme controls, the help overlay (every
//! keyboard shortcut, from the same table the handler reads) and the "About this variant"
//! card of the focused run (or of the next run when there is none).

use eframe::egui;

use super::ViewCtx;
use crate::ui::help;
use crate::ui::shortcuts::{SHORTCUTS, key_text};
use crate::variant::VariantKind;

/// The variant the card describes: the focused run's, else the next run's.
fn card_variant(ctx: &ViewCtx<'_>) -> VariantKind {
    ctx.runs
        .focused_run()
        .map_or(ctx.draft.spec.variant, |r| r.config.variant)
}

/// The toolbar's right-hand side: theme, About this variant, Help.
pub fn toolbar(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        ui.toggle_value(&mut ctx.view.show_help, "Help")
            .on_hover_text(help::HELP_BUTTON);
        let variant = card_variant(ctx);
        ui.toggle_value(
            &mut ctx.view.show_about,
            format!("About {}", variant.label()),
        )
        .on_hover_text(help::ABOUT_BUTTON);
        // Right to left: the box first, then its label (drawn to its left).
        let combo = egui::ComboBox::from_id_salt("theme")
            .selected_text(theme_label(ctx.view.theme))
            .show_ui(ui, |ui| {
                for t in [
                    egui::ThemePreference::System,
                    egui::ThemePreference::Light,
                    egui::ThemePreference::Dark,
                ] {
                    ui.selectable_value(&mut ctx.view.theme, t, theme_label(t));
                }
            })
            .response;
        let l = ui.label("Theme");
        combo.labelled_by(l.id).on_hover_text(help::THEME);
    });
}

fn theme_label(t: egui::ThemePreference) -> &'static str {
    match t {
        egui::ThemePreference::System => "System",
        egui::ThemePreference::Light => "Light",
        egui::ThemePreference::Dark => "Dark",
    }
}

/// The overlay and the card, when open.
pub fn windows(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let egui_ctx = ui.ctx().clone();
    if ctx.view.show_help {
        let mut open = true;
        egui::Window::new("Help: keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(&egui_ctx, overlay);
        ctx.view.show_help &= open;
    }
    if ctx.view.show_about {
        let variant = card_variant(ctx);
        let mut open = true;
        egui::Window::new(format!("About this variant: {}", variant.label()))
            .id(egui::Id::unique("about-variant"))
            .open(&mut open)
            .collapsible(false)
            .default_width(560.0)
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-16.0, 48.0))
            .show(&egui_ctx, |ui| card(ui, variant));
        ctx.view.show_about &= open;
    }
}

fn overlay(ui: &mut egui::Ui) {
    egui::Grid::new("shortcuts")
        .num_columns(2)
        .spacing([16.0, 6.0])
        .striped(true)
        .show(ui, |ui| {
            // Keys that do the same thing share a row ("F1 or ?").
            let mut rows: Vec<(Vec<String>, &str)> = Vec::new();
            for s in &SHORTCUTS {
                let key = key_text(ui.ctx(), s);
                match rows.iter_mut().find(|(_, what)| *what == s.what) {
                    Some((keys, _)) => keys.push(key),
                    None => rows.push((vec![key], s.what)),
                }
            }
            for (keys, what) in rows {
                ui.strong(keys.join(" or "));
                ui.label(what);
                ui.end_row();
            }
        });
    ui.separator();
    ui.label("Keys without Ctrl do nothing while a text field is being edited.");
    ui.label(
        "Hover over any control or figure for what it means. \"About\" in the toolbar \
         explains the focused run's objective.",
    );
    ui.label(
        "Where to start: watch the loss curves fall, then drag the sliders at the top of \
         the list (most informative first), and compare the runs' grids and samples.",
    );
}

/// A variant's card.
pub fn card(ui: &mut egui::Ui, variant: VariantKind) {
    let a = variant.about();
    ui.label(a.idea);
    ui.add_space(4.0);
    ui.strong("Objective");
    ui.label(egui::RichText::new(a.objective).monospace());
    ui.add_space(4.0);
    ui.strong("Paper");
    ui.label(a.paper);
    ui.add_space(4.0);
    ui.strong("What to look for");
    for l in a.look_for {
        ui.horizontal_wrapped(|ui| {
            ui.label("•");
            ui.label(*l);
        });
    }
}
