//! The exploring tabs' commands: the map's linked selection, paths, traversals, anomaly
//! scores, the user's input image, and exports of image views (PNG, GIF, PNG frames).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::ExplorerApp;
use super::command::{ExportFormat, UiCommand};
use super::decoder::{self, Images, Output, ViewKey};
use super::run::RunId;
use crate::data::input;
use crate::export::{column_frame, grid_image, save_gif, save_png};
use crate::gpu::TileSource;

/// File extensions taken as input images when dropped on the window.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Whether `path` names an input image (by extension).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Milliseconds per GIF frame.
const GIF_DELAY_MS: u32 = 150;

impl ExplorerApp {
    /// Apply one of the exploring commands (the others are not handled here).
    pub(super) fn apply_explore(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::SelectDigits(idx) => {
                self.runs.selection = idx.into_iter().collect();
            }
            UiCommand::PathChanged => self.dirty_all(|d| d.path = true),
            UiCommand::SetPathEnds(a, b) => {
                let n = super::shortcuts::digit_count(&self.runs);
                if a < n && b < n {
                    let ex = &mut self.persisted.view.explore;
                    ex.path_from = a;
                    ex.path_to = b;
                    self.dirty_all(|d| d.path = true);
                } else {
                    self.errors.push(format!(
                        "path ends #{a} and #{b}: the runs have codes of test digits 0–{} only",
                        n.saturating_sub(1)
                    ));
                }
            }
            UiCommand::TraversalChanged => self.dirty_all(|d| d.traversal = true),
            UiCommand::Rescore => self.dirty_all(|d| d.anomaly = true),
            UiCommand::Reembed => self.dirty_all(|d| d.embedding = true),
            UiCommand::SetInput { pixels, source } => self.set_input(pixels, source),
            UiCommand::ClearInput => {
                self.runs.input = None;
                self.runs.input_source.clear();
                self.runs.cursor.follow_input = false;
                self.runs.cursor.follow_digit = true;
                for r in self.runs.iter_mut() {
                    r.views.input = None;
                }
                self.dirty_all(|d| {
                    d.latent = true;
                    d.grid = true;
                    d.traversal = true;
                });
            }
            UiCommand::FollowInput if self.runs.input.is_some() => {
                self.runs.cursor.follow_input = true;
                self.dirty_all(|d| {
                    d.latent = true;
                    d.grid = true;
                    d.traversal = true;
                });
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
                    if let Err(e) = self.export(run, view, cols, format, &p) {
                        self.errors.push(e);
                    }
                }
                None => {
                    let name = self
                        .runs
                        .get(run)
                        .map(|r| format!("{}-{view:?}", super::logic::file_stem(&r.name)))
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
        self.dirty_all(|d| d.input = true);
    }

    /// The run's view `view` decoded again on the host, from the job that made it.
    fn host_images(&self, run: RunId, view: ViewKey) -> Result<Images, String> {
        let r = self
            .runs
            .get(run)
            .ok_or_else(|| "the run is gone".to_string())?;
        let job = r
            .views
            .jobs
            .get(&view)
            .ok_or_else(|| format!("{} has no {view:?} image yet", r.name))?;
        let snap = r
            .shown()
            .ok_or_else(|| format!("{} has no weights yet", r.name))?;
        match decoder::execute(
            view,
            0,
            job,
            &snap,
            &r.data,
            &self.device,
            false,
            Instant::now(),
        ) {
            Output::Images(_, img) => Ok(img),
            Output::Error(_, e) => Err(e),
            _ => Err(format!("{view:?} is not an image view")),
        }
    }

    /// Write a run's image view to `path`.
    pub(super) fn export(
        &mut self,
        run: RunId,
        view: ViewKey,
        cols: usize,
        format: ExportFormat,
        path: &Path,
    ) -> Result<(), String> {
        let img = self.host_images(run, view)?;
        let TileSource::Host(px) = &img.source else {
            return Err("the image is not on the host".into());
        };
        let shape = crate::data::ImageShape {
            rows: img.rows,
            cols: img.cols,
            channels: img.channels,
        };
        let n = img.n;
        let px = &px[..(n * shape.len()).min(px.len())];
        let written = match format {
            ExportFormat::Png => {
                save_png(&grid_image(px, shape, cols.max(1), 2), path)
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                path.display().to_string()
            }
            ExportFormat::Gif | ExportFormat::Frames => {
                let frames: Vec<_> = crate::explore::forth_and_back(cols.max(1))
                    .into_iter()
                    .map(|f| column_frame(px, shape, cols, f))
                    .collect();
                if format == ExportFormat::Gif {
                    save_gif(&frames, GIF_DELAY_MS, path)
                        .map_err(|e| format!("writing {}: {e}", path.display()))?;
                    format!("{} ({} frames)", path.display(), frames.len())
                } else {
                    std::fs::create_dir_all(path)
                        .map_err(|e| format!("creating {}: {e}", path.display()))?;
                    for (i, f) in frames.iter().enumerate() {
                        let p = path.join(format!("frame_{i:03}.png"));
                        save_png(f, &p).map_err(|e| format!("writing {}: {e}", p.display()))?;
                    }
                    format!("{} frames in {}", frames.len(), path.display())
                }
            }
        };
        self.note(format!("saved {written}"));
        Ok(())
    }
}
