//! The exploring tabs' commands: the map's linked selection, paths, traversals, anomaly
//! scores, the user's input image, and exports of image views (PNG, GIF, PNG frames;
//! decoded and written off the UI thread by [`super::io`]).

use std::path::PathBuf;
use std::sync::Arc;

use super::app::ExplorerApp;
use super::command::UiCommand;
use super::decoder::ViewKey;
use super::io::ExportJob;
use super::run::RunId;
use crate::data::input;
use crate::export::ExportFormat;

impl ExplorerApp {
    /// Apply one of the exploring commands (the others are not handled here).
    pub(super) fn apply_explore(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::SelectDigits(idx) => {
                self.runs.selection = idx.into_iter().collect();
            }
            UiCommand::SetPathEnds(a, b) => {
                let n = self.runs.digit_count();
                if a < n && b < n {
                    let ex = &mut self.persisted.view.explore;
                    ex.path_from = a;
                    ex.path_to = b;
                } else {
                    self.errors.push(format!(
                        "path ends #{a} and #{b}: the runs have codes of test images 0–{} only",
                        n.saturating_sub(1)
                    ));
                }
            }
            UiCommand::Rescore => self.runs.rescores += 1,
            UiCommand::Reembed => self.runs.reembeds += 1,
            UiCommand::SetInput { pixels, source } => self.set_input(pixels, source),
            UiCommand::ClearInput => {
                self.runs.input = None;
                self.runs.input_source.clear();
                self.runs.cursor.follow_input = false;
                self.runs.cursor.follow_digit = true;
                for r in self.runs.iter_mut() {
                    r.views.input = None;
                }
            }
            UiCommand::FollowInput if self.runs.input.is_some() => {
                self.runs.cursor.follow_input = true;
            }
            UiCommand::OpenInput(path) if self.data.channels() > 1 => {
                // Colour data: the image's central square, resized, as the folder's images.
                let shape = self.data.shape();
                match input::load_colour(&path, shape) {
                    Ok(img) => {
                        self.note(format!(
                            "input {}: {}x{} fitted to {shape}",
                            path.display(),
                            img.original.0,
                            img.original.1
                        ));
                        self.set_input(img.pixels, path.display().to_string());
                    }
                    Err(e) => self.errors.push(format!("input image: {e}")),
                }
            }
            UiCommand::OpenInput(path) => {
                let (rows, cols) = (self.data.rows(), self.data.cols());
                match input::load_image(&path, rows, cols) {
                    Ok(img) => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| path.display().to_string());
                        let how = if img.inverted {
                            " (light background: inverted)"
                        } else {
                            ""
                        };
                        self.note(format!(
                            "input {name}: {}x{} fitted to {rows}x{cols}{how}",
                            img.original.0, img.original.1
                        ));
                        self.persisted.view.explore.canvas = img.pixels.clone();
                        self.set_input(img.pixels, name);
                    }
                    Err(e) => self.errors.push(format!("input image: {e}")),
                }
            }
            UiCommand::PickInput => self.io.pick_input(),
            UiCommand::Export {
                run,
                view,
                cols,
                format,
                path,
            } => match path {
                Some(p) => {
                    if let Err(e) = self.export(run, view, cols, format, p) {
                        self.errors.push(e);
                    }
                }
                None => {
                    let name = self
                        .runs
                        .get(run)
                        .map(|r| format!("{}-{view:?}", r.file_stem()))
                        .unwrap_or_default()
                        .to_lowercase();
                    self.io.pick_export(run, view, cols, format, name);
                }
            },
            _ => {}
        }
    }

    fn set_input(&mut self, pixels: Vec<f32>, source: String) {
        let shape = self.data.shape();
        let pixels = if pixels.len() == shape.len() {
            pixels
        } else if pixels.len() == shape.plane() {
            // A grey drawing for colour data: the same plane in each channel.
            pixels.repeat(shape.channels)
        } else {
            self.errors.push(format!(
                "input of {} values; the data's images are {shape} ({} values)",
                pixels.len(),
                shape.len()
            ));
            return;
        };
        self.runs.input = Some(Arc::new(pixels));
        self.runs.input_source = source;
        self.runs.cursor.follow_input = true;
        self.runs.inputs_set += 1;
    }

    /// Write a run's image view to `path` (decoded again on the host from the job that made
    /// it, against the weights it shows) on a thread of [`super::io`]; the result comes back
    /// as a note or an error. Fails at once when there is nothing to export.
    pub(super) fn export(
        &mut self,
        run: RunId,
        view: ViewKey,
        cols: usize,
        format: ExportFormat,
        path: PathBuf,
    ) -> Result<(), String> {
        let r = self
            .runs
            .get(run)
            .ok_or_else(|| "the run is gone".to_string())?;
        let job = r
            .views
            .jobs
            .get(&view)
            .ok_or_else(|| format!("{} has no {view:?} image yet", r.name))?
            .clone();
        let snapshot = r
            .shown()
            .ok_or_else(|| format!("{} has no weights yet", r.name))?;
        let e = ExportJob {
            view,
            job,
            snapshot,
            data: r.data.clone(),
            cols,
            format,
            path,
        };
        self.io.export(e, self.device.clone());
        Ok(())
    }
}
