//! The app explains itself: every interactive widget, in every layout and tab, carries hover
//! help (read from the accessibility tree, where egui puts a tooltip as the widget's
//! description); every keyboard shortcut does what the help overlay says; the overlay lists
//! them all; each variant has a card; the theme choice is applied.

use std::collections::BTreeSet;

use eframe::egui::accesskit::Role;
use eframe::egui::{self, Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use latent_explorer::train::WorkerState;
use latent_explorer::ui::settings::{CompareTab, CurveTerm, GridAxes, Layout, MapAxes};
use latent_explorer::ui::shortcuts::{Action, SHORTCUTS, key_text};
use latent_explorer::ui::{ExplorerApp, UiCommand};
use latent_explorer::variant::VariantKind;

use crate::app::{harness, nth_run, options, run_until, trained_checkpoint};

/// Roles a user operates (egui's own panel splitters and scroll bars aside).
fn interactive(role: Role) -> bool {
    matches!(
        role,
        Role::Button
            | Role::CheckBox
            | Role::RadioButton
            | Role::ComboBox
            | Role::Slider
            | Role::SpinButton
            | Role::TextInput
            | Role::MultilineTextInput
            | Role::ColorWell
            | Role::DisclosureTriangle
            | Role::Link
            | Role::MenuItem
    )
}

fn described(n: &egui_kittest::Node<'_>) -> bool {
    n.accesskit_node()
        .description()
        .is_some_and(|d| d.trim().len() >= 10)
}

/// Interactive widgets without hover help in the current frame, by role and name. An egui
/// slider is two widgets (the bar and its number box) under one response: either one
/// described counts for both. egui_plot's legend entries (check boxes named after a plot's
/// series, which egui_plot gives no hover text) are explained by the plot's heading, and a
/// window's own close button is named "Close window" by egui.
pub(crate) fn undescribed(h: &Harness<'_, ExplorerApp>) -> Vec<String> {
    let mut series: BTreeSet<String> = h.state().runs.iter().map(|r| r.name.clone()).collect();
    // A followed sweep's configurations are curves too (their runs' mean and band).
    for s in &h.state().runs.sweeps {
        series.extend(s.groups.iter().map(|g| g.label.clone()));
    }
    series.extend(CurveTerm::ALL.iter().map(|t| t.label().to_string()));
    series.insert("KL weight".into());
    series.insert("scrubbed epoch".into());
    // The latent map's legend (labels and the cursor) and the score histogram's.
    series.extend((0..10).map(|l| l.to_string()));
    series.insert("cursor".into());
    series.insert("test".into());
    series.insert(h.state().persisted.view.explore.shift.to_string());
    // While a new shift is scored, a run's histogram still shows the shift it was scored with.
    for r in h.state().runs.iter() {
        if let Some(a) = &r.views.anomaly {
            series.insert(a.report.query.shift.to_string());
        }
    }
    let mut out = Vec::new();
    for n in h.query_all(by().predicate(|n| interactive(n.role()))) {
        if described(&n) {
            continue;
        }
        let role = n.accesskit_node().role();
        let name = n.accesskit_node().label().unwrap_or_default();
        if (role == Role::CheckBox && series.contains(&name))
            || (role == Role::Button && name == "Close window")
        {
            continue;
        }
        if matches!(role, Role::Slider | Role::SpinButton)
            && let Some(parent) = n.parent()
            && parent.children().any(|s| {
                matches!(s.accesskit_node().role(), Role::Slider | Role::SpinButton)
                    && described(&s)
            })
        {
            continue;
        }
        out.push(format!("{role:?} {name:?}"));
    }
    out
}

/// Steps a few frames so that a changed setting is drawn.
pub(crate) fn redraw(h: &mut Harness<'_, ExplorerApp>) {
    for _ in 0..4 {
        h.step();
    }
}

#[test]
fn every_interactive_widget_has_hover_help_in_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, _) = trained_checkpoint(dir.path(), 1);
    // A training VAE (focused: its live settings show), a training conditional VAE ("decode
    // as") and a loaded checkpoint ("Continue").
    let mut opts = options(256, 64, 1000);
    opts.train = vec![VariantKind::Vae, VariantKind::Cvae];
    opts.open = vec![ckpt];
    opts.file_dialogs = false;
    let mut h = harness(opts);
    run_until(&mut h, 120, "three runs, an epoch done, views", |a| {
        a.runs.len() == 3
            && a.runs.max_epoch() >= 1
            && a.runs.iter().all(|r| r.views.stats.is_some())
    });
    // Open the collapsed sections so their widgets are drawn too.
    for header in ["PyTorch key map", "Diagnostics"] {
        h.get_by_label(header).click();
    }
    redraw(&mut h);

    let mut seen = BTreeSet::new();
    let mut missing = BTreeSet::new();
    let mut check = |h: &mut Harness<'_, ExplorerApp>, what: &str| {
        redraw(h);
        for n in h.query_all(by().predicate(|n| interactive(n.role()))) {
            seen.insert(format!("{:?}", n.accesskit_node().role()));
        }
        for m in undescribed(h) {
            missing.insert(format!("{what}: {m}"));
        }
    };
    for layout in [Layout::Compare, Layout::Focus] {
        for tab in [
            CompareTab::Latents,
            CompareTab::SameInput,
            CompareTab::Prior,
            CompareTab::Map,
            CompareTab::Paths,
            CompareTab::Traversals,
            CompareTab::Anomalies,
            CompareTab::Input,
            CompareTab::Collapse,
            CompareTab::Gap,
            CompareTab::Holes,
        ] {
            let v = &mut h.state_mut().persisted.view;
            v.layout = layout;
            v.compare_tab = tab;
            check(&mut h, &format!("{layout:?}/{tab:?}"));
        }
    }
    // The widgets that only some settings show.
    {
        let app = h.state_mut();
        app.persisted.view.layout = Layout::Compare;
        app.persisted.view.compare_tab = CompareTab::Latents;
        app.persisted.view.grid_axes = GridAxes::Dims;
        app.persisted.view.grid_spacing = latent_explorer::explore::Spacing::Linear;
        app.persisted.draft.spec.kl_schedule = latent_explorer::train::ScheduleKind::Linear;
    }
    check(
        &mut h,
        "grid by dimensions, linear spacing, linear KL warm-up",
    );
    h.state_mut().persisted.draft.spec.kl_schedule = latent_explorer::train::ScheduleKind::Cyclical;
    h.state_mut().push_command(UiCommand::Scrub(Some(1)));
    check(&mut h, "cyclical schedule, scrubbing");
    // The exploring tabs' other settings: map by dimensions with a selection, posterior
    // ranges, a noise shift and a held-out class, an input to follow.
    {
        let app = h.state_mut();
        app.persisted.view.explore.map_axes = MapAxes::Dims;
        app.persisted.view.compare_tab = CompareTab::Map;
        app.push_command(UiCommand::SelectDigits(vec![1, 2, 3]));
    }
    check(&mut h, "map by dimensions with a selection");
    h.state_mut().persisted.view.explore.traversal_range =
        latent_explorer::explore::RangeMode::PosteriorSigma(2.0);
    h.state_mut().persisted.view.compare_tab = CompareTab::Traversals;
    check(&mut h, "traversal by ±kσ");
    h.state_mut().persisted.view.explore.shift = latent_explorer::data::Shift::Noise(0.3);
    h.state_mut().persisted.view.compare_tab = CompareTab::Anomalies;
    check(&mut h, "noise shift");
    h.state_mut().persisted.view.explore.shift = latent_explorer::data::Shift::Class(3);
    check(&mut h, "held-out class");
    {
        let app = h.state_mut();
        app.persisted.view.compare_tab = CompareTab::Input;
        let pixels = app.runs.iter().next().unwrap().data.test.image(0).to_vec();
        app.push_command(UiCommand::SetInput {
            pixels,
            source: "test".into(),
        });
        app.push_command(UiCommand::ZeroLatent);
    }
    check(&mut h, "an input not followed");
    h.state_mut().persisted.view.show_help = true;
    h.state_mut().persisted.view.show_about = true;
    check(&mut h, "help overlay and variant card open");

    assert!(
        missing.is_empty(),
        "interactive widgets without hover help:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    // The check saw the kinds of widget the app has (so it cannot pass on an empty tree).
    for role in [
        "Button",
        "CheckBox",
        "RadioButton",
        "ComboBox",
        "Slider",
        "SpinButton",
        "TextInput",
        "MultilineTextInput",
        "ColorWell",
        "DisclosureTriangle",
    ] {
        assert!(seen.contains(role), "no {role} seen; roles seen: {seen:?}");
    }
}

#[test]
fn the_help_check_catches_a_widget_without_hover_help() {
    // The same check on a bare egui UI: one button with help, one without.
    let mut h = Harness::new_ui(|ui| {
        ui.button("explained")
            .on_hover_text("what this button does");
        let _ = ui.button("unexplained");
        let mut v = 0.5f32;
        ui.add(egui::Slider::new(&mut v, 0.0..=1.0).text("slid"))
            .on_hover_text("a slider with help");
    });
    h.run();
    let missing: Vec<String> = h
        .query_all(by().predicate(|n| interactive(n.role())))
        .filter(|n| !described(n))
        .map(|n| n.accesskit_node().label().unwrap_or_default())
        .collect();
    assert!(
        missing.iter().any(|l| l == "unexplained"),
        "the unexplained button was not caught: {missing:?}"
    );
    assert!(!missing.iter().any(|l| l == "explained"), "{missing:?}");
}

/// The focused run (the first).
fn focused<'a>(h: &'a Harness<'_, ExplorerApp>) -> &'a latent_explorer::ui::Run {
    h.state().runs.focused_run().expect("a focused run")
}

fn press(h: &mut Harness<'_, ExplorerApp>, key: egui::KeyboardShortcut) {
    h.key_press_modifiers(key.modifiers, key.logical_key);
    h.step();
    h.step();
}

#[test]
fn every_shortcut_does_what_the_help_overlay_says() {
    let mut opts = options(2000, 32, 1000);
    opts.file_dialogs = false;
    let mut h = harness(opts);
    run_until(&mut h, 120, "training with views", |a| {
        a.runs.len() == 1 && nth_run(a, 0).status.step >= 20 && nth_run(a, 0).views.stats.is_some()
    });

    // The overlay lists every shortcut with its key and description.
    press(
        &mut h,
        egui::KeyboardShortcut::new(Modifiers::NONE, Key::F1),
    );
    assert!(h.state().persisted.view.show_help);
    h.get_by_label("Help: keyboard shortcuts");
    for s in &SHORTCUTS {
        h.get_all_by_label(s.what).next().unwrap_or_else(|| {
            panic!("the overlay does not list {:?}", s.what);
        });
        let key = key_text(&h.ctx, s);
        let shown = h
            .query_all(by().predicate(|n| n.role() == Role::Label))
            .any(|n| {
                let n = n.accesskit_node();
                let text = n.value().or_else(|| n.label()).unwrap_or_default();
                text.split(" or ").any(|k| k == key)
            });
        assert!(shown, "the overlay does not show the key {key}");
    }
    press(
        &mut h,
        egui::KeyboardShortcut::new(Modifiers::NONE, Key::F1),
    );
    assert!(!h.state().persisted.view.show_help);

    // Each shortcut, in the overlay's order, does what it says. The match has no catch-all:
    // a new action needs its check here.
    for s in SHORTCUTS {
        match s.action {
            Action::Save => {
                press(&mut h, s.key);
                run_until(&mut h, 10, "the save dialog request", |a| {
                    a.notes.iter().any(|n| n.contains("no save dialog"))
                });
            }
            Action::PauseResume => {
                assert_eq!(focused(&h).status.state, WorkerState::Running);
                press(&mut h, s.key);
                run_until(&mut h, 30, "paused by Space", |a| {
                    a.runs.focused_run().unwrap().status.state == WorkerState::Paused
                });
                press(&mut h, s.key);
                run_until(&mut h, 30, "resumed by Space", |a| {
                    a.runs.focused_run().unwrap().status.state == WorkerState::Running
                });
                press(&mut h, s.key);
                run_until(&mut h, 30, "paused again", |a| {
                    a.runs.focused_run().unwrap().status.state == WorkerState::Paused
                });
            }
            Action::Step => {
                // Paused (above): one press, exactly one step, still paused.
                let before = focused(&h).status.step;
                press(&mut h, s.key);
                run_until(&mut h, 30, "one step", |a| {
                    a.runs.focused_run().unwrap().status.step > before
                });
                let r = focused(&h);
                assert_eq!(r.status.step, before + 1, "S is one step");
                assert_eq!(r.status.state, WorkerState::Paused);
            }
            Action::Randomize => {
                let before = h.state().runs.cursor.z.clone();
                press(&mut h, s.key);
                let c = &h.state().runs.cursor;
                assert!(!c.follow_digit, "still following a digit after R");
                assert_ne!(c.z, before, "R did not change the latent vector");
                assert!(c.z.iter().any(|v| *v != 0.0));
            }
            Action::Zero => {
                press(&mut h, s.key);
                let c = &h.state().runs.cursor;
                assert!(
                    !c.z.is_empty() && c.z.iter().all(|v| *v == 0.0),
                    "{:?}",
                    c.z
                );
            }
            Action::NextDigit => {
                let d = h.state().runs.cursor.digit;
                press(&mut h, s.key);
                let c = &h.state().runs.cursor;
                assert!(c.follow_digit);
                assert_eq!(c.digit, d + 1);
            }
            Action::PreviousDigit => {
                let d = h.state().runs.cursor.digit;
                press(&mut h, s.key);
                press(&mut h, s.key);
                let c = &h.state().runs.cursor;
                assert!(c.follow_digit);
                // The digits the runs have codes of: the test split here (300), wrapping.
                let n = nth_run(h.state(), 0).data.test.len();
                assert_eq!(n, 300);
                assert_eq!(c.digit, (d + n - 2) % n);
            }
            Action::ToggleLayout => {
                let before = h.state().persisted.view.layout;
                press(&mut h, s.key);
                assert_ne!(h.state().persisted.view.layout, before);
                press(&mut h, s.key);
                assert_eq!(h.state().persisted.view.layout, before);
            }
            Action::About => {
                press(&mut h, s.key);
                assert!(h.state().persisted.view.show_about);
                h.get_by_label("About this variant: VAE");
                h.get_by_label_contains("Kingma & Welling (2014)");
                press(&mut h, s.key);
                assert!(!h.state().persisted.view.show_about);
            }
            Action::Help => {
                press(&mut h, s.key);
                assert!(
                    h.state().persisted.view.show_help,
                    "{:?} did not open help",
                    s.key
                );
                press(&mut h, s.key);
                assert!(!h.state().persisted.view.show_help);
            }
            Action::Close => {
                h.state_mut().persisted.view.show_help = true;
                h.state_mut().persisted.view.show_about = true;
                h.step();
                press(&mut h, s.key);
                let v = &h.state().persisted.view;
                assert!(!v.show_help && !v.show_about, "Escape left a window open");
            }
        }
    }

    // Keys without Ctrl do nothing while a text field is being edited.
    let layout = h.state().persisted.view.layout;
    h.get_by_role_and_label(Role::TextInput, "name").focus();
    h.step();
    press(&mut h, egui::KeyboardShortcut::new(Modifiers::NONE, Key::F));
    assert_eq!(
        h.state().persisted.view.layout,
        layout,
        "F toggled while typing"
    );
}

#[test]
fn every_variant_has_a_card_with_its_objective_and_paper() {
    for v in VariantKind::ALL {
        let a = v.about();
        assert!(a.idea.len() > 40, "{v:?}: idea");
        assert!(
            a.objective.contains("loss") || a.objective.contains("phase"),
            "{v:?}: objective {:?}",
            a.objective
        );
        // A paper: authors and a year.
        assert!(
            a.paper.contains("(20") && a.paper.contains(','),
            "{v:?}: paper {:?}",
            a.paper
        );
        assert!(!a.look_for.is_empty(), "{v:?}: what to look for");
    }
    // Cards differ (no copy left unedited).
    let ideas: BTreeSet<&str> = VariantKind::ALL.iter().map(|v| v.about().idea).collect();
    assert_eq!(ideas.len(), VariantKind::ALL.len());
}

#[test]
fn the_theme_choice_is_applied_and_kept() {
    for (theme, dark) in [
        (egui::ThemePreference::Dark, true),
        (egui::ThemePreference::Light, false),
    ] {
        let mut opts = options(256, 64, 1);
        opts.autostart = false;
        if let Some(v) = opts.view.as_mut() {
            v.theme = theme;
        }
        let mut h = harness(opts);
        h.run_steps(3);
        assert_eq!(h.ctx.theme() == egui::Theme::Dark, dark, "{theme:?}");
        // Choosing the other theme in the toolbar applies it and is what gets saved.
        let other = if dark { "Light" } else { "Dark" };
        h.get_by_role_and_label(Role::ComboBox, "Theme").click();
        h.run_steps(2);
        h.get_by_label(other).click();
        h.run_steps(3);
        assert_eq!(
            h.ctx.theme() == egui::Theme::Dark,
            !dark,
            "after choosing {other}"
        );
        let saved = serde_json::to_string(&h.state().persisted).unwrap();
        let back: latent_explorer::ui::Persisted = serde_json::from_str(&saved).unwrap();
        assert_eq!(back.view.theme, h.state().persisted.view.theme);
        assert_ne!(back.view.theme, theme);
    }
}
