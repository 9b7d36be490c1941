//! eframe's callbacks for the app: each frame's logic step (dropped files, events, commands,
//! decode requests), the panels, and saving the workspace.

use std::path::PathBuf;
use std::time::Instant;

use eframe::egui;

use super::app::ExplorerApp;
use super::panels;

impl eframe::App for ExplorerApp {
    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        // The panels paint no background (`panels::bare`): the clear is their background.
        visuals.panel_fill.to_normalized_gamma_f32()
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        self.on_dropped(dropped);
        self.logic_step();
        // Where each training run goes if the display is lost before the next save.
        self.autosave
            .watch(self.runs.autosave_dir.as_deref(), &self.runs);
        self.measure_step(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        // The persisted theme (the toolbar edits it) wins over egui's own setting.
        let theme = self.persisted.view.theme;
        if ui.ctx().options(|o| o.theme_preference) != theme {
            ui.ctx().set_theme(theme);
            ui.ctx().request_repaint();
        }
        let mut cmds = Vec::new();
        panels::show(ui, self, &mut cmds);
        self.commands.extend(cmds);
        if !self.commands.is_empty() {
            ui.ctx().request_repaint();
        }
        self.frames.ui_built(started);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Runs trained here are written to checkpoints (by the writer thread) and the open
        // runs listed, so the next start reopens the workspace (every 30 s and at exit).
        self.autosave_now();
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
    }

    fn on_exit(&mut self) {
        // After the last save: a removal still undoable is done, and every write asked
        // for (autosaves, saves, exports) is waited for.
        self.finish_writes();
    }
}
