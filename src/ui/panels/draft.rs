//! "Next run": the settings New run and the preset start from (the same [`RunSpec`] the
//! CLI's `train` parses), the dataset, and the device and sharing policy.
//!
//! [`RunSpec`]: crate::train::RunSpec

use eframe::egui;

use super::ViewCtx;
use crate::data::Binarize;
use crate::train::share::SharingPolicy;
use crate::train::{ArchKind, ScheduleKind};
use crate::ui::command::UiCommand;
use crate::ui::help;
use crate::ui::settings::DeviceChoice;
use crate::variant::VariantKind;

/// One row of a settings grid: a label and the widget it names (for accessibility), both
/// explained by `help` on hover.
pub fn row(
    ui: &mut egui::Ui,
    label: &str,
    help: &str,
    widget: impl FnOnce(&mut egui::Ui) -> egui::Response,
) -> egui::Response {
    let l = ui.label(label).on_hover_text(help);
    let r = widget(ui).labelled_by(l.id).on_hover_text(help);
    ui.end_row();
    r
}

/// A label for a row whose widgets are added by hand, explained by `help` on hover.
pub fn row_label(ui: &mut egui::Ui, label: &str, help: &str) -> egui::Response {
    ui.label(label).on_hover_text(help)
}

/// A grid row choosing a KL schedule (the next run's, or a training run's live).
pub fn schedule_row(ui: &mut egui::Ui, label: &str, id_salt: &str, kind: &mut ScheduleKind) {
    let l = row_label(ui, label, help::KL_SCHEDULE);
    egui::ComboBox::from_id_salt(id_salt)
        .selected_text(format!("{kind:?}"))
        .show_ui(ui, |ui| {
            ui.selectable_value(kind, ScheduleKind::Constant, "Constant");
            ui.selectable_value(kind, ScheduleKind::Linear, "Linear");
            ui.selectable_value(kind, ScheduleKind::Cyclical, "Cyclical");
        })
        .response
        .labelled_by(l.id)
        .on_hover_text(help::KL_SCHEDULE);
    ui.end_row();
}

/// A grid row for free bits: on or off, and the floor λ. Returns the new setting when the
/// user changed it.
pub fn free_bits_row(ui: &mut egui::Ui, label: &str, current: Option<f64>) -> Option<Option<f64>> {
    let l = row_label(ui, label, help::FREE_BITS);
    let changed = ui
        .horizontal(|ui| {
            let mut on = current.is_some();
            let mut v = current.unwrap_or(0.1);
            let a = ui.checkbox(&mut on, "on").on_hover_text(help::FREE_BITS);
            let b = ui
                .add_enabled(
                    on,
                    egui::DragValue::new(&mut v).range(0.0..=5.0).speed(0.01),
                )
                .labelled_by(l.id)
                .on_hover_text(help::FREE_BITS)
                .on_disabled_hover_text(help::FREE_BITS);
            (a.changed() || b.changed()).then_some(on.then_some(v))
        })
        .inner;
    ui.end_row();
    changed
}

/// Draw the panel.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    egui::CollapsingHeader::new("Next run")
        .default_open(true)
        .show(ui, |ui| body(ui, ctx))
        .header_response
        .on_hover_text("The settings New run and the preset start from (the same as the CLI's `train` options)");
}

fn body(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let d = &mut *ctx.draft;
    let s = &mut d.spec;
    egui::Grid::new("draft-settings")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            row(ui, "Dataset", help::DATA_DIR, |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut d.data_dir)
                        .hint_text("bundled MNIST, DIR[@SIDE], shapes")
                        .desired_width(150.0),
                )
            });
            let l = row_label(ui, "Variant", help::VARIANT);
            egui::ComboBox::from_id_salt("variant")
                .selected_text(s.variant.label())
                .show_ui(ui, |ui| {
                    for v in VariantKind::ALL {
                        if ui
                            .selectable_value(&mut s.variant, v, v.label())
                            .on_hover_text(v.about().idea)
                            .changed()
                        {
                            s.beta = None;
                        }
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(help::VARIANT);
            ui.end_row();
            row_label(ui, "Architecture", help::ARCH);
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.arch, ArchKind::Mlp, "MLP")
                    .on_hover_text(help::ARCH);
                ui.radio_value(&mut s.arch, ArchKind::Conv, "Conv")
                    .on_hover_text(help::ARCH);
            });
            ui.end_row();
            if s.arch == ArchKind::Mlp {
                if s.hidden.is_empty() {
                    s.hidden.push(400);
                }
                row(ui, "Hidden width", help::HIDDEN, |ui| {
                    ui.add(egui::DragValue::new(&mut s.hidden[0]).range(8..=4096))
                });
            }
            row(ui, "Latent dim", help::LATENT, |ui| {
                ui.add(egui::DragValue::new(&mut s.latent).range(1..=256))
            });
            let mut beta = s.effective_beta();
            let r = row(ui, "β", help::BETA, |ui| {
                ui.add(
                    egui::DragValue::new(&mut beta)
                        .range(0.0..=100.0)
                        .speed(0.05),
                )
            });
            if r.changed() {
                s.beta = Some(beta);
            }
            schedule_row(ui, "KL schedule", "schedule", &mut s.kl_schedule);
            match s.kl_schedule {
                ScheduleKind::Constant => {}
                ScheduleKind::Linear => {
                    row(ui, "Warm-up steps", help::WARMUP, |ui| {
                        ui.add(egui::DragValue::new(&mut s.warmup_steps).range(1..=1_000_000))
                    });
                }
                ScheduleKind::Cyclical => {
                    let l = row_label(ui, "Cycles / ratio", help::CYCLES);
                    ui.horizontal(|ui| {
                        ui.add(egui::DragValue::new(&mut s.cycles).range(1..=100))
                            .labelled_by(l.id)
                            .on_hover_text(help::CYCLES);
                        ui.add(
                            egui::DragValue::new(&mut s.cycle_ratio)
                                .range(0.05..=1.0)
                                .speed(0.01),
                        )
                        .labelled_by(l.id)
                        .on_hover_text(help::CYCLES);
                    });
                    ui.end_row();
                }
            }
            if let Some(fb) = free_bits_row(ui, "Free bits", s.free_bits) {
                s.free_bits = fb;
            }
            let l = row_label(ui, "Binarize", help::BINARIZE);
            egui::ComboBox::from_id_salt("binarize")
                .selected_text(match s.binarize {
                    Binarize::None => "None",
                    Binarize::Dynamic => "Dynamic",
                    Binarize::Static => "Static",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.binarize, Binarize::None, "None");
                    ui.selectable_value(&mut s.binarize, Binarize::Dynamic, "Dynamic");
                    ui.selectable_value(&mut s.binarize, Binarize::Static, "Static");
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(help::BINARIZE);
            ui.end_row();
            row(ui, "Learning rate", help::LR, |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.lr)
                        .range(1e-6..=1.0)
                        .speed(1e-5)
                        .max_decimals(6),
                )
            });
            row(ui, "Batch", help::BATCH, |ui| {
                ui.add(egui::DragValue::new(&mut s.batch).range(1..=4096))
            });
            row(ui, "Epochs", help::EPOCHS, |ui| {
                ui.add(egui::DragValue::new(&mut s.epochs).range(1..=100_000))
            });
            row(ui, "Seed", help::SEED, |ui| {
                ui.add(egui::DragValue::new(&mut s.seed))
            });
            row(ui, "IWAE k per epoch", help::IWAE_K, |ui| {
                ui.add(egui::DragValue::new(&mut s.eval_iwae_k).range(0..=5000))
            });
            let l = row_label(ui, "Device", help::DEVICE);
            egui::ComboBox::from_id_salt("device")
                .selected_text(format!("{:?}", d.device))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut d.device, DeviceChoice::Auto, "Auto");
                    ui.selectable_value(&mut d.device, DeviceChoice::Gpu, "GPU");
                    ui.selectable_value(&mut d.device, DeviceChoice::Cpu, "CPU");
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(help::DEVICE);
            ui.end_row();
            let l = row_label(ui, "CPU sharing", help::SHARING);
            egui::ComboBox::from_id_salt("sharing")
                .selected_text(format!("{:?}", d.sharing))
                .show_ui(ui, |ui| {
                    for p in [
                        SharingPolicy::LowPriority,
                        SharingPolicy::GateLowPriority,
                        SharingPolicy::Gate,
                        SharingPolicy::Free,
                    ] {
                        ui.selectable_value(&mut d.sharing, p, format!("{p:?}"));
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(help::SHARING);
            ui.end_row();
        });
    ui.small(format!(
        "Device and CPU sharing apply when the app starts (now: {}, {:?}).",
        ctx.device_label, ctx.sharing
    ));
    ui.horizontal(|ui| {
        if ui
            .button("Save settings…")
            .on_hover_text(help::SAVE_DRAFT)
            .clicked()
        {
            ctx.push(UiCommand::SaveDraft(None));
        }
        if ui
            .button("Load settings…")
            .on_hover_text(help::LOAD_DRAFT)
            .clicked()
        {
            ctx.push(UiCommand::LoadDraft(None));
        }
    });
}
