//! Live hyperparameters of the focused run while it trains here: β, the KL schedule, free
//! bits and the learning rate, applied from the next step.

use eframe::egui;

use super::draft::{free_bits_row, row, schedule_row};
use super::{ViewCtx, run_label};
use crate::train::{Command, RunSpec, ScheduleKind};
use crate::ui::command::{RunAction, UiCommand};
use crate::ui::help;
use crate::ui::run::RunSource;
use crate::variant::KlSchedule;

/// Draw the panel (nothing unless the focused run trains here).
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    let Some(run) = runs.focused_run() else {
        return;
    };
    if !matches!(run.source, RunSource::Training(_)) || !run.status.is_active() {
        return;
    }
    let id = run.id;
    let cfg = &run.config;
    egui::CollapsingHeader::new("Live settings of the focused run")
        .default_open(true)
        .show(ui, |ui| {
            run_label(ui, run);
            let mut send = Vec::new();
            egui::Grid::new("live-settings")
                .num_columns(2)
                .spacing([8.0, 4.0])
                .show(ui, |ui| {
                    let mut beta = cfg.beta;
                    let r = row(ui, "β (live)", help::BETA, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut beta)
                                .range(0.0..=100.0)
                                .speed(0.05),
                        )
                    });
                    if r.changed() {
                        send.push(Command::SetBeta(beta));
                    }
                    let mut lr = cfg.optim.lr;
                    let r = row(ui, "Learning rate (live)", help::LR, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut lr)
                                .range(1e-6..=1.0)
                                .speed(1e-5)
                                .max_decimals(6),
                        )
                    });
                    if r.changed() {
                        send.push(Command::SetLr(lr));
                    }
                    if let Some(fb) = free_bits_row(ui, "Free bits (live)", cfg.free_bits) {
                        send.push(Command::SetFreeBits(fb));
                    }
                    let current = match cfg.schedule {
                        KlSchedule::Constant => ScheduleKind::Constant,
                        KlSchedule::Linear { .. } => ScheduleKind::Linear,
                        KlSchedule::Cyclical { .. } => ScheduleKind::Cyclical,
                    };
                    let mut kind = current;
                    schedule_row(ui, "KL schedule (live)", "live-schedule", &mut kind);
                    if kind != current {
                        // The new schedule keeps the run's length; its parameters come from
                        // the next run's settings.
                        let steps = cfg.steps_per_epoch(run.data.train.len()) * cfg.epochs as u64;
                        let spec = RunSpec {
                            kl_schedule: kind,
                            ..ctx.draft.spec.clone()
                        };
                        send.push(Command::SetSchedule(spec.kl_schedule(steps)));
                    }
                });
            for c in send {
                ctx.push(UiCommand::Run(id, RunAction::Worker(c)));
            }
            ui.small("Changes apply from the next step.");
        })
        .header_response
        .on_hover_text("β, learning rate, free bits and the KL schedule of the focused run, changed while it trains");
}
