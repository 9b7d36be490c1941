//! The panels, one per file, each handed one [`ViewCtx`]: what it may read (settings, runs,
//! data, diagnostics) and where it sends commands. Panels draw and push commands; they never
//! touch a worker, a decoder or a file. [`show`] lays them out: the compare layout (every
//! run side by side) or the focus layout (one run with all its panels).

mod anomalies;
mod collapse;
mod curves;
mod draft;
mod gap;
mod grid;
mod help;
mod holes;
mod input;
mod live;
pub mod map;
mod matrix;
mod metrics;
mod nearest;
mod paths;
mod prior;
mod recon;
mod runs;
mod scrubber;
mod sliders;
mod status;
mod traversals;

use eframe::egui;

use super::app::ExplorerApp;
use super::command::UiCommand;
use super::fit;
use super::help as text;
use super::measure::FrameStats;
use super::recent::Recent;
use super::run::Run;
use super::runs::Runs;
use super::settings::{CompareTab, Layout, RunDraft, ViewSettings, Workspace};
use crate::data::Dataset;
use crate::train::share::SharingPolicy;

/// What a panel may read, and where it sends commands.
pub struct ViewCtx<'a> {
    /// How views look (panels edit these directly; they are not run state).
    pub view: &'a mut ViewSettings,
    /// The next run's settings (edited directly).
    pub draft: &'a mut RunDraft,
    /// Recent files and import rules (edited directly).
    pub workspace: &'a mut Workspace,
    /// The runs, read-only: changes go through commands.
    pub runs: &'a Runs,
    /// The workspace data.
    pub data: &'a Dataset,
    /// Changes whenever the workspace data is replaced.
    pub data_generation: u64,
    /// Frame timing.
    pub frames: &'a FrameStats,
    /// Workspace errors.
    pub errors: &'a [String],
    /// Workspace notes.
    pub notes: &'a Recent<String>,
    /// The training device.
    pub device_label: &'a str,
    /// The wgpu adapter.
    pub adapter_label: &'a str,
    /// The window is drawn by a software rasteriser: views leave out what only decorates
    /// (see [`plot`]).
    pub software_renderer: bool,
    /// How runs share the CPU.
    pub sharing: SharingPolicy,
    /// Background file work in flight.
    pub io_in_flight: usize,
    /// Images decoded and in all while an image folder is read.
    pub io_progress: Option<(usize, usize)>,
    /// Commands for the logic step.
    pub cmds: &'a mut Vec<UiCommand>,
}

impl<'a> ViewCtx<'a> {
    /// The runs whose images the current layout shows: every run whose views are shown
    /// ([`Runs::shows_views`]: all but the runs of a followed sweep not asked for), or the
    /// focused one (borrowed from the workspace, not from the context, so panels can push
    /// commands while drawing them).
    pub fn shown(&self) -> Vec<&'a Run> {
        let runs: &'a Runs = self.runs;
        match self.view.layout {
            Layout::Compare => runs.iter().filter(|r| runs.shows_views(r)).collect(),
            Layout::Focus => runs.focused_run().into_iter().collect(),
        }
    }

    /// Queue a command.
    pub fn push(&mut self, cmd: UiCommand) {
        self.cmds.push(cmd);
    }
}

/// An image of `shape` from intensities in [0, 1] (grey: one row-major plane; colour: its
/// red, green and blue planes; clamped, NaN black) as an egui image, for pictures drawn from
/// host pixels (test images, the drawing, its reconstruction). Missing values are black.
pub fn host_image(px: &[f32], shape: crate::data::ImageShape) -> egui::ColorImage {
    let byte = |i: usize| {
        let v = px.get(i).copied().unwrap_or(0.0);
        (if v.is_finite() {
            v.clamp(0.0, 1.0)
        } else {
            0.0
        } * 255.0)
            .round() as u8
    };
    let plane = shape.plane();
    let pixels = (0..plane)
        .map(|i| {
            if shape.channels >= 3 {
                egui::Color32::from_rgb(byte(i), byte(i + plane), byte(i + 2 * plane))
            } else {
                egui::Color32::from_gray(byte(i))
            }
        })
        .collect();
    egui::ColorImage::new([shape.cols, shape.rows], pixels)
}

/// The size, in points, at which one image of `shape` is drawn within `max` points: the
/// largest integer multiple of its pixels that fits ([`fit::fit`]).
pub fn image_size(ui: &egui::Ui, shape: crate::data::ImageShape, max: egui::Vec2) -> egui::Vec2 {
    fit::fit(
        max,
        fit::Tiles::single([shape.cols, shape.rows]),
        ui.ctx().pixels_per_point(),
    )
    .size
}

/// A small square in a run's colour, then its name.
pub fn run_label(ui: &mut egui::Ui, run: &Run) -> egui::Response {
    ui.horizontal(|ui| {
        let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter().rect_filled(rect, 2.0, run.colour);
        ui.label(egui::RichText::new(&run.name).color(run.colour).strong())
    })
    .inner
}

/// The image size, `[width, height]` in pixels, that `runs`' views are sized for: the
/// largest of their data's (the workspace data's when there are none).
pub fn image_px(runs: &[&Run], data: &Dataset) -> [usize; 2] {
    let sizes = runs.iter().map(|r| r.data.shape());
    sizes
        .chain(runs.is_empty().then(|| data.shape()))
        .fold([1, 1], |[w, h], s| [w.max(s.cols), h.max(s.rows)])
}

/// What one run's image view needs besides its images, in points: the gap to the next run
/// and its frame across; its name above (`named`), its frame and the gap below down.
pub fn run_overhead(ui: &egui::Ui, named: bool) -> egui::Vec2 {
    let s = ui.spacing();
    // The run's frame is drawn 3.5 points outside the images on each side.
    let frame = 8.0;
    let label = if named {
        s.interact_size.y + s.item_spacing.y
    } else {
        0.0
    };
    egui::vec2(s.item_spacing.x + frame, label + s.item_spacing.y + frame)
}

/// How the shown runs' views of `tiles` share the space left in `ui` (less `reserve`
/// points below, for what follows them): see [`fit::share`].
pub fn share_space(
    ui: &egui::Ui,
    runs: usize,
    named: bool,
    reserve: f32,
    tiles: fit::Tiles,
) -> fit::Shared {
    let avail = ui.available_size() - egui::vec2(0.0, reserve);
    fit::share(
        avail,
        runs,
        run_overhead(ui, named),
        tiles,
        ui.ctx().pixels_per_point(),
    )
}

/// Lay out `runs` in rows of `across`, each drawn by `draw` in a vertical group.
pub fn arranged<'r>(
    ui: &mut egui::Ui,
    runs: &[&'r Run],
    across: usize,
    mut draw: impl FnMut(&mut egui::Ui, &'r Run),
) {
    ui.vertical(|ui| {
        for row in runs.chunks(across.max(1)) {
            ui.horizontal_top(|ui| {
                for &run in row {
                    ui.vertical(|ui| draw(ui, run));
                }
            });
        }
    });
}

/// A per-image score's controls, the same in every tab that scores images: its sample count
/// `k` (labelled `k_label`, within `k_range`), its noise `seed`, and a *Rescore* button;
/// true when the button was clicked. Drawn into the caller's row.
pub fn k_seed_rescore(
    ui: &mut egui::Ui,
    k_label: &str,
    k: &mut usize,
    k_range: std::ops::RangeInclusive<usize>,
    k_help: &str,
    seed: &mut u64,
    seed_help: &str,
) -> bool {
    let l = ui.label(k_label);
    ui.add(egui::DragValue::new(k).range(k_range))
        .labelled_by(l.id)
        .on_hover_text(k_help);
    let l = ui.label("seed");
    ui.add(egui::DragValue::new(seed))
        .labelled_by(l.id)
        .on_hover_text(seed_help);
    ui.button("Rescore")
        .on_hover_text(text::explore::RESCORE)
        .clicked()
}

/// The width each of `n` side-by-side run columns may take (frames and gaps included).
pub fn column_width(ui: &egui::Ui, n: usize) -> f32 {
    let n = n.max(1) as f32;
    let gap = ui.spacing().item_spacing.x + 6.0;
    (ui.available_width() - gap * n) / n
}

/// The frame an animation of `n` frames shows now (forth and back at `fps`); asks for the
/// next repaint when `playing`.
pub fn anim_frame(ui: &egui::Ui, n: usize, fps: f32, playing: bool) -> usize {
    if !playing || n < 2 {
        return 0;
    }
    let fps = fps.clamp(0.5, 60.0);
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_secs_f32(1.0 / fps));
    let period = 2 * (n - 1);
    let t = (ui.input(|i| i.time) * fps as f64) as usize % period;
    if t < n { t } else { period - t }
}

/// A right-click menu on an image view: save it as PNG, and (animated views) as a GIF or
/// its frames as PNGs.
pub fn export_menu(
    response: &egui::Response,
    cmds: &mut Vec<UiCommand>,
    run: super::run::RunId,
    view: super::decoder::ViewKey,
    cols: usize,
    animated: bool,
) {
    use super::decoder::ViewKey as K;
    // The views decoded from latent vectors, drawn `cols` tiles per row.
    let decoded = matches!(
        view,
        K::Slider | K::Grid | K::Prior | K::Path | K::Traversal
    );
    image_menu(response, cmds, run, view, cols, animated, decoded);
}

/// [`export_menu`], with a "Nearest training images" entry for the tile under the pointer
/// when `nearest` (the view shows its decode job's tiles, `cols` per row).
pub fn image_menu(
    response: &egui::Response,
    cmds: &mut Vec<UiCommand>,
    run: super::run::RunId,
    view: super::decoder::ViewKey,
    cols: usize,
    animated: bool,
    nearest: bool,
) {
    use crate::export::ExportFormat;
    // Where the menu was opened: the tile it asks about.
    let at_id = response.id.with("menu-at");
    if response.secondary_clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        response.ctx.data_mut(|m| m.insert_temp(at_id, p));
    }
    response.context_menu(|ui| {
        if nearest
            && let Some(p) = ui.ctx().data(|m| m.get_temp::<egui::Pos2>(at_id))
            && ui
                .button("Nearest training images")
                .on_hover_text(super::help::NEAREST_MENU)
                .clicked()
        {
            let r = response.rect;
            cmds.push(UiCommand::NearestAt {
                run,
                view,
                cols,
                at: [
                    (p.x - r.left()) / r.width().max(1.0),
                    (p.y - r.top()) / r.height().max(1.0),
                ],
            });
            ui.close();
        }
        let mut choose = |ui: &mut egui::Ui, label: &str, format: ExportFormat| {
            if ui.button(label).clicked() {
                cmds.push(UiCommand::Export {
                    run,
                    view,
                    cols,
                    format,
                    path: None,
                });
                ui.close();
            }
        };
        choose(ui, "Save PNG…", ExportFormat::Png);
        if animated {
            choose(ui, "Save animated GIF…", ExportFormat::Gif);
            choose(ui, "Save frames as PNGs…", ExportFormat::Frames);
        }
    });
}

/// Two columns `height` tall: the left one takes `left_fraction` of the width.
fn columns(
    ui: &mut egui::Ui,
    ctx: &mut ViewCtx<'_>,
    height: f32,
    left_fraction: f32,
    left: impl FnOnce(&mut egui::Ui, &mut ViewCtx<'_>),
    right: impl FnOnce(&mut egui::Ui, &mut ViewCtx<'_>),
) {
    let w = ui.available_width();
    ui.allocate_ui(egui::vec2(w, height), |ui| {
        ui.horizontal_top(|ui| {
            ui.allocate_ui(egui::vec2(w * left_fraction, height), |ui| {
                ui.vertical(|ui| left(ui, ctx));
            });
            ui.separator();
            ui.allocate_ui(egui::vec2(ui.available_width(), height), |ui| {
                ui.vertical(|ui| right(ui, ctx));
            });
        });
    });
}

/// Lay out every panel for this frame.
pub fn show(ui: &mut egui::Ui, app: &mut ExplorerApp, cmds: &mut Vec<UiCommand>) {
    let ExplorerApp {
        persisted,
        runs,
        data,
        data_generation,
        frames,
        errors,
        notes,
        device_label,
        adapter_label,
        software_renderer,
        sharing,
        io,
        ..
    } = app;
    super::shortcuts::handle(ui.ctx(), runs, &mut persisted.view, cmds);
    let mut ctx = ViewCtx {
        view: &mut persisted.view,
        draft: &mut persisted.draft,
        workspace: &mut persisted.workspace,
        runs,
        data,
        data_generation: *data_generation,
        frames,
        errors,
        notes,
        device_label,
        adapter_label,
        software_renderer: *software_renderer,
        sharing: *sharing,
        io_in_flight: io.in_flight(),
        io_progress: io.progress(),
        cmds,
    };
    let style = ui.style().clone();
    egui::Panel::left("workspace")
        .frame(bare(egui::Frame::side_top_panel(&style)))
        .resizable(true)
        .default_size(330.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                runs::show(ui, &mut ctx);
                ui.separator();
                live::show(ui, &mut ctx);
                draft::show(ui, &mut ctx);
                ui.separator();
                status::show(ui, &mut ctx);
            });
        });
    egui::Panel::top("toolbar")
        .frame(bare(egui::Frame::side_top_panel(&style)))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                scrubber::show(ui, &mut ctx);
                help::toolbar(ui, &mut ctx);
            });
        });
    egui::CentralPanel::default_margins()
        .frame(bare(egui::Frame::central_panel(&style)))
        .show(ui, |ui| match ctx.view.layout {
            Layout::Compare => compare_layout(ui, &mut ctx),
            Layout::Focus => focus_layout(ui, &mut ctx),
        });
    help::windows(ui, &mut ctx);
    nearest::windows(ui, &mut ctx);
}

/// A plot as every view makes one. On a software rasteriser it has no backdrop: the
/// backdrop shades every pixel of the plot each frame, and leaving it out took a dragging
/// frame from 46 to 37 ms at 1600×1000 under lavapipe while training (README). The grid and
/// axes still frame the plot.
pub fn plot<'a>(ctx: &ViewCtx<'_>, id: impl egui::AsIdSalt) -> egui_plot::Plot<'a> {
    egui_plot::Plot::new(id).show_background(!ctx.software_renderer)
}

/// A panel's frame without its fill: the window is cleared to the panel colour instead
/// (see `ExplorerApp::clear_color`), so a software rasteriser shades no background pixels.
fn bare(frame: egui::Frame) -> egui::Frame {
    frame.fill(egui::Color32::TRANSPARENT)
}

/// Every run side by side: curves and the metrics table above, a tab below.
fn compare_layout(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    if ctx.runs.is_empty() {
        ui.vertical_centered(|ui| {
            ui.add_space(80.0);
            ui.heading("No runs yet");
            ui.label("Start one with New run or the preset, open a checkpoint or a PyTorch model, drop files on the window, or follow a run directory.");
        });
        return;
    }
    let top_h = (ui.available_height() * 0.42).max(220.0);
    columns(ui, ctx, top_h, 0.48, curves::show, metrics::show);
    ui.separator();
    ui.horizontal(|ui| {
        let tab = &mut ctx.view.compare_tab;
        ui.selectable_value(tab, CompareTab::Latents, "Latents (lock-step)")
            .on_hover_text(text::TAB_LATENTS);
        ui.selectable_value(tab, CompareTab::SameInput, "Same input")
            .on_hover_text(text::TAB_SAME_INPUT);
        ui.selectable_value(tab, CompareTab::Prior, "Prior samples")
            .on_hover_text(text::TAB_PRIOR);
        ui.separator();
        exploring_tabs(ui, tab);
    });
    ui.separator();
    let bottom_h = ui.available_height() - ui.spacing().item_spacing.y;
    match ctx.view.compare_tab {
        CompareTab::Latents => columns(
            ui,
            ctx,
            bottom_h,
            0.3,
            |ui, ctx| sliders::show_controls(ui, ctx, bottom_h),
            latent_views,
        ),
        CompareTab::SameInput => matrix::show(ui, ctx),
        CompareTab::Prior => prior::show(ui, ctx),
        _ => exploring_tab(ui, ctx),
    }
}

/// Beside the sliders: the grid's controls, then the runs' slider images in a column and
/// their grids filling the rest (one run's grid takes it all; several share it).
fn latent_views(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    grid::show_controls(ui, ctx);
    let avail = ui.available_size();
    // The slider images' column: as wide as their best fit in up to 30% of the width needs,
    // so what that fit leaves over goes to the grids.
    let shown = ctx.shown();
    let overhead = run_overhead(ui, true);
    let column = fit::share(
        egui::vec2((avail.x * 0.3).clamp(120.0, 320.0), avail.y),
        shown.len(),
        overhead,
        fit::Tiles::single(image_px(&shown, ctx.data)),
        ui.ctx().pixels_per_point(),
    );
    let images_w = (column.fit.size.x + overhead.x) * column.across as f32;
    ui.horizontal_top(|ui| {
        ui.allocate_ui(egui::vec2(images_w, avail.y), |ui| {
            ui.vertical(|ui| {
                ui.set_width(images_w);
                sliders::show_images(ui, ctx);
            });
        });
        ui.separator();
        ui.vertical(|ui| grid::show_grids(ui, ctx));
    });
}

/// The exploring tabs' selectors.
fn exploring_tabs(ui: &mut egui::Ui, tab: &mut CompareTab) {
    ui.selectable_value(tab, CompareTab::Map, "Map")
        .on_hover_text(text::TAB_MAP);
    ui.selectable_value(tab, CompareTab::Paths, "Paths")
        .on_hover_text(text::TAB_PATHS);
    ui.selectable_value(tab, CompareTab::Traversals, "Traversals")
        .on_hover_text(text::TAB_TRAVERSALS);
    ui.selectable_value(tab, CompareTab::Anomalies, "Anomalies")
        .on_hover_text(text::TAB_ANOMALIES);
    ui.selectable_value(tab, CompareTab::Input, "Your input")
        .on_hover_text(text::TAB_INPUT);
    ui.selectable_value(tab, CompareTab::Collapse, "Collapse")
        .on_hover_text(text::TAB_COLLAPSE);
    ui.selectable_value(tab, CompareTab::Gap, "Gap")
        .on_hover_text(text::TAB_GAP);
    ui.selectable_value(tab, CompareTab::Holes, "Holes")
        .on_hover_text(text::TAB_HOLES);
}

/// The exploring tab chosen, for the runs the layout shows.
fn exploring_tab(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    match ctx.view.compare_tab {
        CompareTab::Map => map::show(ui, ctx),
        CompareTab::Paths => paths::show(ui, ctx),
        CompareTab::Traversals => traversals::show(ui, ctx),
        CompareTab::Anomalies => anomalies::show(ui, ctx),
        CompareTab::Input => input::show(ui, ctx),
        CompareTab::Collapse => collapse::show(ui, ctx),
        CompareTab::Gap => gap::show(ui, ctx),
        CompareTab::Holes => holes::show(ui, ctx),
        _ => {}
    }
}

/// The focused run with all its panels.
fn focus_layout(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    if ctx.runs.focused_run().is_none() {
        ui.label("No run to focus on.");
        return;
    }
    let top_h = (ui.available_height() * 0.46).max(240.0);
    columns(ui, ctx, top_h, 0.55, curves::show, |ui, ctx| {
        recon::show(ui, ctx);
        ui.separator();
        prior::show(ui, ctx);
    });
    ui.separator();
    // The lower half: the latent sliders and grid, or one of the exploring tabs.
    ui.horizontal(|ui| {
        let tab = &mut ctx.view.compare_tab;
        if ui
            .selectable_label(!tab.is_exploring(), "Latents")
            .on_hover_text(text::TAB_LATENTS)
            .clicked()
        {
            *tab = CompareTab::Latents;
        }
        ui.separator();
        exploring_tabs(ui, tab);
    });
    ui.separator();
    if ctx.view.compare_tab.is_exploring() {
        exploring_tab(ui, ctx);
        return;
    }
    let bottom_h = ui.available_height() - ui.spacing().item_spacing.y;
    columns(
        ui,
        ctx,
        bottom_h,
        0.42,
        |ui, ctx| {
            sliders::show_controls(ui, ctx, bottom_h * 0.5);
            sliders::show_images(ui, ctx);
        },
        grid::show,
    );
}
