//! The latent map: every run's codes of the test set (posterior means) as a scatter,
//! coloured by label, on two latent dimensions or the run's top two principal directions.
//! Hover shows the digit; a click moves the shared cursor to that digit (every run then
//! shows its own code of it); a dragged rectangle selects digits, and the selection is
//! highlighted in every run's map.

use eframe::egui;
use egui_plot::{MarkerShape, PlotPoint, PlotPoints, Points};

use super::{ViewCtx, column_width, run_label};
use crate::ui::command::UiCommand;
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::settings::MapAxes;

/// Label colours (matplotlib's tab10).
pub const LABEL_COLOURS: [egui::Color32; 10] = [
    egui::Color32::from_rgb(31, 119, 180),
    egui::Color32::from_rgb(255, 127, 14),
    egui::Color32::from_rgb(44, 160, 44),
    egui::Color32::from_rgb(214, 39, 40),
    egui::Color32::from_rgb(148, 103, 189),
    egui::Color32::from_rgb(140, 86, 75),
    egui::Color32::from_rgb(227, 119, 194),
    egui::Color32::from_rgb(127, 127, 127),
    egui::Color32::from_rgb(188, 189, 34),
    egui::Color32::from_rgb(23, 190, 207),
];

/// How near (in points) the pointer must be to a dot to hover or click it.
pub const PICK_RADIUS: f32 = 8.0;

/// Where a run's map was drawn last frame, kept in egui's memory under [`geometry_id`]:
/// the plot's transform and each test digit's position in plot coordinates (tests click
/// on a digit through it).
#[derive(Clone)]
pub struct MapGeometry {
    /// Plot ↔ screen.
    pub transform: egui_plot::PlotTransform,
    /// Each digit's `[x, y]` in plot coordinates, by test index.
    pub points: std::sync::Arc<Vec<[f64; 2]>>,
}

/// The memory id of a run's [`MapGeometry`].
pub fn geometry_id(run: crate::ui::run::RunId) -> egui::Id {
    egui::Id::unique(("latent-map", run.0))
}

/// The two directions the map projects `run`'s codes on (`None` before its codes exist).
fn axes(run: &Run, axes: MapAxes, dims: [usize; 2]) -> Option<(Vec<f32>, Vec<f32>, String)> {
    let s = run.views.stats.as_ref()?;
    let d = s.latent;
    match axes {
        MapAxes::Principal if s.principal.len() == 2 => Some((
            s.principal[0].clone(),
            s.principal[1].clone(),
            "principal directions 1 and 2".into(),
        )),
        _ => {
            let (a, b) = (dims[0].min(d - 1), dims[1].min(d - 1));
            Some((
                crate::explore::axis(d, a),
                crate::explore::axis(d, b),
                format!("z{a} and z{b}"),
            ))
        }
    }
}

/// Each code projected on `(u, v)`.
pub fn project(codes: &[f32], d: usize, u: &[f32], v: &[f32]) -> Vec<[f64; 2]> {
    codes
        .chunks_exact(d)
        .map(|c| {
            let x: f32 = c.iter().zip(u).map(|(a, b)| a * b).sum();
            let y: f32 = c.iter().zip(v).map(|(a, b)| a * b).sum();
            [x as f64, y as f64]
        })
        .collect()
}

/// The index of the point nearest `pos` on screen, if within [`PICK_RADIUS`].
pub fn pick(
    points: &[[f64; 2]],
    transform: &egui_plot::PlotTransform,
    pos: egui::Pos2,
) -> Option<usize> {
    let mut best = None;
    let mut best_d = PICK_RADIUS * PICK_RADIUS;
    for (i, p) in points.iter().enumerate() {
        let s = transform.position_from_point(&PlotPoint::new(p[0], p[1]));
        let d = s.distance_sq(pos);
        if d <= best_d {
            best_d = d;
            best = Some(i);
        }
    }
    best
}

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, latent: usize) {
    let mut clear = false;
    let mut recompute = false;
    ui.horizontal_wrapped(|ui| {
        let ex = &mut ctx.view.explore;
        ui.label("axes");
        // A 2-d latent under its manifold is plotted on its two dimensions.
        let forced = latent == 2 && ex.manifold;
        ui.add_enabled_ui(!forced, |ui| {
            ui.radio_value(&mut ex.map_axes, MapAxes::Principal, "principal directions")
                .on_hover_text(help::explore::MAP_PRINCIPAL);
            ui.radio_value(&mut ex.map_axes, MapAxes::Dims, "dimensions")
                .on_hover_text(help::explore::MAP_DIMS);
            ui.radio_value(&mut ex.map_axes, MapAxes::Tsne, "t-SNE")
                .on_hover_text(help::explore::MAP_TSNE);
        });
        if ex.map_axes == MapAxes::Tsne
            && !forced
            && ui
                .button("Recompute")
                .on_hover_text(help::explore::RECOMPUTE_TSNE)
                .clicked()
        {
            recompute = true;
        }
        if ex.map_axes == MapAxes::Dims && !forced {
            let max = latent.saturating_sub(1);
            for (k, name) in ["x", "y"].iter().enumerate() {
                let l = ui.label(*name);
                ui.add(
                    egui::DragValue::new(&mut ex.map_dims[k])
                        .range(0..=max)
                        .prefix("z"),
                )
                .labelled_by(l.id)
                .on_hover_text(help::GRID_DIM);
            }
        }
        if latent == 2 {
            ui.checkbox(&mut ex.manifold, "decoded manifold underneath")
                .on_hover_text(help::explore::MANIFOLD);
        }
        if ex.map_axes != MapAxes::Tsne {
            aligned_toggle(ui, &mut ex.aligned, ctx.runs);
        }
        ui.separator();
        let n = ctx.runs.selection.len();
        if n > 0 {
            let mut per_label = [0usize; 10];
            for &i in &ctx.runs.selection {
                if let Some(&l) = ctx.data.test.labels.get(i) {
                    per_label[(l as usize).min(9)] += 1;
                }
            }
            let parts: Vec<String> = per_label
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(l, c)| format!("{l}×{c}"))
                .collect();
            ui.label(format!("{n} selected: {}", parts.join(" ")));
            if ui
                .button("Set as A")
                .on_hover_text(help::explore::DIRECTION_A)
                .clicked()
            {
                ctx.push(UiCommand::SetDirectionSet(true));
            }
            if ui
                .button("Set as B")
                .on_hover_text(help::explore::DIRECTION_B)
                .clicked()
            {
                ctx.push(UiCommand::SetDirectionSet(false));
            }
            let esc = ui.input(|i| i.key_pressed(egui::Key::Escape));
            if ui
                .button("Clear selection")
                .on_hover_text(help::explore::CLEAR_SELECTION)
                .clicked()
                || esc
            {
                clear = true;
            }
        } else {
            ui.weak(format!("drag on a map to select {}", ctx.data.nouns()));
        }
        let runs = ctx.runs;
        let dir = &runs.cursor.direction;
        if !dir.a.is_empty() || !dir.b.is_empty() {
            ui.separator();
            ui.small(format!(
                "direction: B {} → A {} {}",
                dir.b.len(),
                dir.a.len(),
                ctx.data.nouns()
            ));
            if let Some(spec) = dir.spec()
                && ui
                    .small_button("Copy as --direction")
                    .on_hover_text(help::explore::DIRECTION_COPY)
                    .clicked()
            {
                ui.ctx().copy_text(spec.to_string());
            }
        }
    });
    if clear {
        ctx.push(UiCommand::SelectDigits(Vec::new()));
    }
    if recompute {
        ctx.push(UiCommand::Reembed);
    }
}

/// The "Aligned" checkbox; its hover help lists each run's fit onto the focused run.
pub fn aligned_toggle(ui: &mut egui::Ui, aligned: &mut bool, runs: &crate::ui::runs::Runs) {
    // Hover text (not a hover UI): screen readers get it as the checkbox's description.
    let mut text = help::explore::ALIGNED.to_string();
    for line in crate::ui::align::fit_lines(runs) {
        text.push_str("\n• ");
        text.push_str(&line);
    }
    ui.checkbox(aligned, "Aligned").on_hover_text(text);
}

/// Draw the controls and one map per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let latent = ctx.runs.focused_run().map(|r| r.latent_dim()).unwrap_or(1);
    controls(ui, ctx, latent);
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let w = column_width(ui, shown.len()).max(120.0);
    let h = (ui.available_height() - 30.0).max(120.0);
    let mut cmds = Vec::new();
    ui.horizontal_top(|ui| {
        for run in shown {
            ui.vertical(|ui| {
                ui.set_width(w);
                run_label(ui, run);
                map_of(ui, ctx, run, egui::vec2(w, h), &mut cmds);
            });
        }
    });
    ctx.cmds.extend(cmds);
}

fn map_of(
    ui: &mut egui::Ui,
    ctx: &ViewCtx<'_>,
    run: &Run,
    size: egui::Vec2,
    cmds: &mut Vec<UiCommand>,
) {
    let ex = &ctx.view.explore;
    let manifold = crate::ui::views::manifold_shown(run, ex);
    let (map_axes, map_dims) = if manifold {
        (MapAxes::Dims, crate::ui::views::manifold_dims(ex))
    } else {
        (ex.map_axes, ex.map_dims)
    };
    let (Some(stats), Some((u, v, what))) =
        (run.views.stats.as_ref(), axes(run, map_axes, map_dims))
    else {
        let why = if run.data_fits() {
            "encoding the test set…"
        } else {
            "the workspace data has another image size: no map"
        };
        crate::ui::tiles::placeholder(ui, size, why, Some(run.colour));
        return;
    };
    let d = stats.latent;
    if map_axes == MapAxes::Tsne {
        // The embedding of the codes (computed by the run's decode thread on request).
        match &run.views.embedding {
            Some(e) if e.points.len() == stats.codes.len() / d.max(1) => {
                let what = format!(
                    "t-SNE of the codes at step {} ({:.1} s)",
                    e.step,
                    e.micros as f64 / 1e6
                );
                let cursor = ctx
                    .runs
                    .cursor
                    .follows_codes()
                    .then(|| e.points.get(ctx.runs.cursor.digit).copied())
                    .flatten()
                    .filter(|_| !ctx.runs.cursor.follow_input);
                draw_map(
                    ui,
                    ctx,
                    run,
                    size,
                    cmds,
                    e.points.clone(),
                    cursor,
                    &what,
                    None,
                );
            }
            _ if run
                .views
                .failed
                .contains_key(&crate::ui::decoder::ViewKey::Embedding) =>
            {
                let e = &run.views.failed[&crate::ui::decoder::ViewKey::Embedding];
                crate::ui::tiles::placeholder(ui, size, e, Some(run.colour));
            }
            _ => {
                let why = format!(
                    "computing a t-SNE of {} codes (10–30 s on a 2-core CPU)…",
                    stats.codes.len() / d.max(1)
                );
                crate::ui::tiles::placeholder(ui, size, &why, Some(run.colour));
            }
        }
        return;
    }
    if ex.aligned && !manifold && aligned_map(ui, ctx, run, size, cmds, map_axes, map_dims) {
        return;
    }
    // The projection changes only with the codes and the axes: kept between frames.
    // One slot per run, replaced when the version changes.
    let key = egui::Id::unique(("map-points", run.id.0));
    let version = egui::Id::unique((
        stats.step,
        stats.codes.len(),
        format!("{map_axes:?}{map_dims:?}"),
        ctx.data_generation,
    ));
    type Cached = (egui::Id, std::sync::Arc<Vec<[f64; 2]>>);
    let cached: Option<Cached> = ui.ctx().data(|m| m.get_temp(key));
    let pts = match cached {
        Some((v, p)) if v == version => p,
        _ => {
            let p = std::sync::Arc::new(project(&stats.codes, d, &u, &v));
            ui.ctx()
                .data_mut(|m| m.insert_temp::<Cached>(key, (version, p.clone())));
            p
        }
    };
    let cursor = ctx
        .runs
        .cursor
        .latent_for(run)
        .ok()
        .filter(|z| z.len() == d)
        .map(|z| project(&z, d, &u, &v)[0]);
    let manifold = manifold.then_some(map_dims);
    draw_map(ui, ctx, run, size, cmds, pts, cursor, &what, manifold);
}

/// Aligned runs: `run`'s map in the focused run's frame (see [`crate::ui::align`]), on the
/// frame's principal directions or dimensions. False (nothing drawn) while the focused
/// run's frame or this run's fit is missing.
#[allow(clippy::too_many_arguments)]
fn aligned_map(
    ui: &mut egui::Ui,
    ctx: &ViewCtx<'_>,
    run: &Run,
    size: egui::Vec2,
    cmds: &mut Vec<UiCommand>,
    map_axes: MapAxes,
    map_dims: [usize; 2],
) -> bool {
    let Some(focused) = ctx.runs.focused_run() else {
        return false;
    };
    let (Some(frame), Some(stats)) = (focused.views.frame.as_ref(), run.views.stats.as_ref())
    else {
        return false;
    };
    let Some(to) = crate::ui::align::to_frame(run, frame) else {
        return false;
    };
    let d = frame.dim;
    let (u, v, what) = match map_axes {
        MapAxes::Principal if frame.principal.len() == 2 => (
            frame.principal[0].clone(),
            frame.principal[1].clone(),
            format!(
                "aligned to {}: its principal directions 1 and 2",
                focused.name
            ),
        ),
        _ => {
            let (a, b) = (map_dims[0].min(d - 1), map_dims[1].min(d - 1));
            (
                crate::explore::axis(d, a),
                crate::explore::axis(d, b),
                format!("aligned to {}: its z{a} and z{b}", focused.name),
            )
        }
    };
    let key = egui::Id::unique(("map-points-aligned", run.id.0));
    let fitted = run.views.aligned.as_ref().map(|a| a.steps);
    let version = egui::Id::unique((
        stats.step,
        stats.codes.len(),
        frame.step,
        frame.links,
        fitted,
        focused.id.0,
        format!("{map_axes:?}{map_dims:?}"),
        ctx.data_generation,
    ));
    type Cached = (egui::Id, std::sync::Arc<Vec<[f64; 2]>>);
    let cached: Option<Cached> = ui.ctx().data(|m| m.get_temp(key));
    let pts = match cached {
        Some((v, p)) if v == version => p,
        _ => {
            let codes: Vec<f32> = if run.id == focused.id {
                frame.codes.to_vec()
            } else {
                stats
                    .codes
                    .chunks_exact(stats.latent.max(1))
                    .flat_map(&to)
                    .collect()
            };
            let p = std::sync::Arc::new(project(&codes, d, &u, &v));
            ui.ctx()
                .data_mut(|m| m.insert_temp::<Cached>(key, (version, p.clone())));
            p
        }
    };
    let cursor = ctx
        .runs
        .cursor
        .latent_for(run)
        .ok()
        .filter(|z| z.len() == stats.latent)
        .map(|z| project(&to(&z), d, &u, &v)[0]);
    draw_map(ui, ctx, run, size, cmds, pts, cursor, &what, None);
    true
}

/// The plot of `pts` (one per test digit) with its interactions; `manifold` names the two
/// dimensions a 2-d latent's decoded manifold is drawn underneath on.
#[allow(clippy::too_many_arguments)]
fn draw_map(
    ui: &mut egui::Ui,
    ctx: &ViewCtx<'_>,
    run: &Run,
    size: egui::Vec2,
    cmds: &mut Vec<UiCommand>,
    pts: std::sync::Arc<Vec<[f64; 2]>>,
    cursor: Option<[f64; 2]>,
    what: &str,
    manifold: Option<[usize; 2]>,
) {
    let labels = &ctx.data.test.labels;
    let sel = &ctx.runs.selection;
    let drag_id = egui::Id::unique(("map-drag", run.id.0));
    let drag_start: Option<PlotPoint> = ui.ctx().data(|m| m.get_temp(drag_id));
    // The data's extent: the plot's bounds (its points are painted as one mesh below, not
    // as plot items, so the plot cannot fit them by itself).
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    legend_row(ui);
    let resp = super::plot(ctx, ("latent-map", run.id.0))
        .width(size.x)
        .height(size.y - 40.0)
        .allow_drag(false)
        .allow_boxed_zoom(false)
        .data_aspect(1.0)
        .include_x(x0)
        .include_x(x1)
        .include_y(y0)
        .include_y(y1)
        .show_axes([true, true])
        .show(ui, |p| {
            if let Some(c) = cursor {
                p.points(
                    Points::new("cursor", PlotPoints::from(vec![c]))
                        .shape(MarkerShape::Cross)
                        .radius(7.0)
                        .color(run.colour),
                );
            }
            // The pointer in plot coordinates (not `pointer_coordinate`, which subtracts the
            // drag delta for panning, and this plot does not pan on drag).
            p.ctx()
                .input(|i| i.pointer.latest_pos())
                .map(|q| p.plot_from_screen(q))
        });
    let response = &resp.response;
    let transform = resp.transform;
    if let (Some(map_dims), Some(stats)) = (manifold, run.views.stats.as_ref())
        && let Some(img) = run.image(crate::ui::decoder::ViewKey::Manifold)
    {
        let [x0, x1, y0, y1] = crate::ui::views::manifold_extent(&stats.codes, map_dims);
        let k = (img.n as f64).sqrt().round() as usize;
        let rect = egui::Rect::from_two_pos(
            transform.position_from_point(&PlotPoint::new(x0 as f64, y1 as f64)),
            transform.position_from_point(&PlotPoint::new(x1 as f64, y0 as f64)),
        );
        crate::ui::tiles::paint_in(
            ui,
            rect,
            *transform.frame(),
            crate::ui::tiles::TileView {
                key: run.id.painter_key(crate::ui::decoder::ViewKey::Manifold),
                version: run.image_version(crate::ui::decoder::ViewKey::Manifold),
                cols: k,
                rows: k,
                max_size: rect.size(),
                colormap: ctx.view.colormap,
                highlight: None,
                frame: None,
                first: 0,
            },
            img,
        );
        // Dimmed, so the codes stay readable on top.
        ui.painter().with_clip_rect(*transform.frame()).rect_filled(
            rect,
            0.0,
            egui::Color32::from_black_alpha(120),
        );
    }
    paint_points(ui, &transform, &pts, labels, sel);
    ui.ctx().data_mut(|m| {
        m.insert_temp(
            geometry_id(run.id),
            MapGeometry {
                transform,
                points: pts.clone(),
            },
        )
    });
    // Rectangle selection.
    // The drag starts where the button went down (egui reports the start only once the
    // pointer has moved past its drag threshold).
    if response.drag_started_by(egui::PointerButton::Primary)
        && let Some(pos) = ui
            .input(|i| i.pointer.press_origin())
            .or(response.interact_pointer_pos())
    {
        let start = transform.value_from_position(pos);
        ui.ctx().data_mut(|m| m.insert_temp(drag_id, start));
    }
    // The selection rectangle, drawn over the plot (not as a plot item, which would move
    // the plot's automatic bounds while dragging).
    if let (Some(a), Some(b)) = (drag_start, resp.inner) {
        let r = egui::Rect::from_two_pos(
            transform.position_from_point(&a),
            transform.position_from_point(&b),
        );
        ui.painter()
            .rect_filled(r, 0.0, egui::Color32::from_white_alpha(20));
        ui.painter().rect_stroke(
            r,
            0.0,
            egui::Stroke::new(1.0, egui::Color32::from_white_alpha(120)),
            egui::StrokeKind::Inside,
        );
    }
    // Where the drag is now (the pointer may be gone in the frame the button is released).
    let end_id = drag_id.with("end");
    if drag_start.is_some()
        && let Some(now) = resp.inner
    {
        ui.ctx().data_mut(|m| m.insert_temp(end_id, now));
    }
    if response.drag_stopped() {
        let end = resp
            .inner
            .or(ui.ctx().data(|m| m.get_temp::<PlotPoint>(end_id)));
        ui.ctx().data_mut(|m| {
            m.remove::<PlotPoint>(drag_id);
            m.remove::<PlotPoint>(end_id);
        });
        if let (Some(a), Some(b)) = (drag_start, end) {
            let (x0, x1) = (a.x.min(b.x), a.x.max(b.x));
            let (y0, y1) = (a.y.min(b.y), a.y.max(b.y));
            let chosen: Vec<usize> = pts
                .iter()
                .enumerate()
                .filter(|(_, p)| p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1)
                .map(|(i, _)| i)
                .collect();
            cmds.push(UiCommand::SelectDigits(chosen));
        }
    }
    let hovered = response
        .hover_pos()
        .and_then(|pos| pick(&pts, &transform, pos));
    if response.clicked()
        && let Some(i) = response
            .interact_pointer_pos()
            .and_then(|pos| pick(&pts, &transform, pos))
    {
        let m = ui.input(|i| i.modifiers);
        if m.shift || m.command {
            let mut ex = ctx.view.explore.clone();
            if m.shift {
                ex.path_from = i;
            } else {
                ex.path_to = i;
            }
            cmds.push(UiCommand::SetPathEnds(ex.path_from, ex.path_to));
        } else {
            cmds.push(UiCommand::EncodeDigit(i));
        }
    }
    let response = response.clone();
    match hovered {
        Some(i) => {
            response.on_hover_ui_at_pointer(|ui| {
                let label = labels.get(i).copied().unwrap_or(0);
                ui.label(format!("test {} #{i}, label {label}", ctx.data.noun()));
                digit_image(ui, ctx, i, 84.0);
                let p = pts[i];
                ui.small(format!("{what}: ({:+.2}, {:+.2})", p[0], p[1]));
                ui.small("click: the cursor · shift/ctrl-click: path start/end");
            });
        }
        None => {
            response.on_hover_text(help::explore::MAP);
        }
    }
    ui.small(format!("{} codes: {what}", pts.len()));
}

/// The label colours, as a legend.
fn legend_row(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 6.0;
        for (l, c) in LABEL_COLOURS.iter().enumerate() {
            let (r, _) = ui.allocate_exact_size(egui::vec2(8.0, 8.0), egui::Sense::hover());
            ui.painter().rect_filled(r, 1.0, *c);
            ui.small(l.to_string());
        }
    });
}

/// Every code as a small square in its label's colour, in one mesh (thousands of plot
/// markers cost a software renderer several times more): selected digits larger, the
/// others faded while a selection exists.
fn paint_points(
    ui: &egui::Ui,
    transform: &egui_plot::PlotTransform,
    pts: &[[f64; 2]],
    labels: &[u8],
    sel: &std::collections::BTreeSet<usize>,
) {
    let frame = *transform.frame();
    let mut mesh = egui::Mesh::default();
    mesh.reserve_triangles(pts.len() * 2);
    mesh.reserve_vertices(pts.len() * 4);
    // Faded ones first, so selected ones are drawn on top.
    for pass in [false, true] {
        for (i, p) in pts.iter().enumerate() {
            let on = sel.is_empty() || sel.contains(&i);
            if on != pass {
                continue;
            }
            let c = transform.position_from_point(&PlotPoint::new(p[0], p[1]));
            if !frame.contains(c) {
                continue;
            }
            let colour = LABEL_COLOURS[labels.get(i).map_or(0, |&l| (l as usize).min(9))];
            let (colour, r) = match (on, sel.is_empty()) {
                (true, true) => (colour, 1.6),
                (true, false) => (colour, 2.6),
                (false, _) => (colour.gamma_multiply(0.3), 1.3),
            };
            mesh.add_colored_rect(
                egui::Rect::from_center_size(c, egui::vec2(2.0 * r, 2.0 * r)),
                colour,
            );
        }
    }
    ui.painter().with_clip_rect(frame).add(mesh);
}

/// A test digit drawn from the data (an egui texture kept in memory by index).
pub fn digit_image(ui: &mut egui::Ui, ctx: &ViewCtx<'_>, i: usize, side: f32) -> egui::Response {
    let size = super::image_size(ui, ctx.data.shape(), egui::vec2(side, side));
    let split = &ctx.data.test;
    if i >= split.len() {
        return ui.label("—");
    }
    let id = egui::Id::unique(("digit-texture", ctx.data_generation, i));
    let tex: Option<egui::TextureHandle> = ui.ctx().data(|m| m.get_temp(id));
    let tex = tex.unwrap_or_else(|| {
        let ci = super::host_image(&split.image(i), split.shape());
        let t = ui
            .ctx()
            .load_texture(format!("digit {i}"), ci, egui::TextureOptions::NEAREST);
        ui.ctx().data_mut(|m| m.insert_temp(id, t.clone()));
        t
    });
    ui.add(egui::Image::new((tex.id(), size)))
}
