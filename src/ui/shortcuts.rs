//! Keyboard shortcuts: one table ([`SHORTCUTS`]) that both the handler and the help overlay
//! read, so the overlay lists exactly what the keys do. Keys without Ctrl are ignored while a
//! text field has the keyboard.

use eframe::egui::{self, Key, KeyboardShortcut, Modifiers};

use super::command::{RunAction, UiCommand};
use super::run::RunSource;
use super::runs::Runs;
use super::settings::{Layout, ViewSettings};
use crate::train::{Command, WorkerState};

/// What a shortcut does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pause the focused run if it trains, resume it if paused.
    PauseResume,
    /// One training step of the focused run, then paused.
    Step,
    /// A new latent vector from the prior.
    Randomize,
    /// The latent vector set to zero.
    Zero,
    /// Encode the next test digit.
    NextDigit,
    /// Encode the previous test digit.
    PreviousDigit,
    /// Save the focused run (asks where).
    Save,
    /// Switch between the compare and the focus layout.
    ToggleLayout,
    /// Show or hide the help overlay.
    Help,
    /// Show or hide the focused run's variant card.
    About,
    /// Close the overlay and the variant card.
    Close,
}

/// One shortcut: its key and what the overlay says it does.
#[derive(Debug, Clone, Copy)]
pub struct Shortcut {
    /// The key (with modifiers).
    pub key: KeyboardShortcut,
    /// What it does.
    pub action: Action,
    /// The overlay's description.
    pub what: &'static str,
}

const fn key(key: Key, action: Action, what: &'static str) -> Shortcut {
    Shortcut {
        key: KeyboardShortcut::new(Modifiers::NONE, key),
        action,
        what,
    }
}

/// Every shortcut, in the overlay's order. Ctrl+S comes before S: egui matches modifiers
/// loosely, so the more specific shortcut is tried first.
pub const SHORTCUTS: [Shortcut; 12] = [
    Shortcut {
        key: KeyboardShortcut::new(Modifiers::COMMAND, Key::S),
        action: Action::Save,
        what: "Save the focused run as a checkpoint (asks where)",
    },
    key(
        Key::Space,
        Action::PauseResume,
        "Pause or resume the focused run",
    ),
    key(
        Key::S,
        Action::Step,
        "One training step of the focused run, then paused",
    ),
    key(
        Key::R,
        Action::Randomize,
        "Randomize the latent vector (a prior sample)",
    ),
    key(Key::Z, Action::Zero, "Set the latent vector to zero"),
    key(Key::N, Action::NextDigit, "Encode the next test image"),
    key(
        Key::P,
        Action::PreviousDigit,
        "Encode the previous test image",
    ),
    key(
        Key::F,
        Action::ToggleLayout,
        "Switch between the compare and the focus layout",
    ),
    key(
        Key::A,
        Action::About,
        "About the focused run's variant: objective, paper, what to look for",
    ),
    key(Key::F1, Action::Help, "Show or hide this overlay"),
    key(Key::Questionmark, Action::Help, "Show or hide this overlay"),
    key(
        Key::Escape,
        Action::Close,
        "Close this overlay or the variant card",
    ),
];

/// How the overlay writes a shortcut's key ("Ctrl+S", "Space", "?").
pub fn key_text(ctx: &egui::Context, s: &Shortcut) -> String {
    match s.key.logical_key {
        Key::Questionmark => "?".into(),
        Key::Escape => "Esc".into(),
        _ => ctx.format_shortcut(&s.key),
    }
}

/// The commands (and view changes) `action` means now.
pub fn apply(action: Action, runs: &Runs, view: &mut ViewSettings, cmds: &mut Vec<UiCommand>) {
    let focused = runs.focused_run();
    let training = focused.filter(|r| matches!(r.source, RunSource::Training(_)));
    let digits = runs.digit_count();
    match action {
        Action::PauseResume => {
            if let Some(run) = training.filter(|r| r.status.is_active()) {
                let c = if run.status.state == WorkerState::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                };
                cmds.push(UiCommand::Run(run.id, RunAction::Worker(c)));
            }
        }
        Action::Step => {
            if let Some(run) = training.filter(|r| r.status.is_active()) {
                cmds.push(UiCommand::Run(run.id, RunAction::Worker(Command::Step)));
            }
        }
        Action::Randomize => cmds.push(UiCommand::RandomizeLatent),
        Action::Zero => cmds.push(UiCommand::ZeroLatent),
        Action::NextDigit => cmds.push(UiCommand::EncodeDigit((runs.cursor.digit + 1) % digits)),
        Action::PreviousDigit => cmds.push(UiCommand::EncodeDigit(
            (runs.cursor.digit.min(digits - 1) + digits - 1) % digits,
        )),
        Action::Save => {
            if let Some(run) = focused {
                cmds.push(UiCommand::Run(run.id, RunAction::Save(None)));
            }
        }
        Action::ToggleLayout => cmds.push(UiCommand::SetLayout(match view.layout {
            Layout::Compare => Layout::Focus,
            Layout::Focus => Layout::Compare,
        })),
        Action::Help => view.show_help = !view.show_help,
        Action::About => view.show_about = !view.show_about,
        Action::Close => {
            view.show_help = false;
            view.show_about = false;
        }
    }
}

/// Read this frame's shortcut keys and act on them.
pub fn handle(
    ctx: &egui::Context,
    runs: &Runs,
    view: &mut ViewSettings,
    cmds: &mut Vec<UiCommand>,
) {
    let typing = ctx.egui_wants_keyboard_input();
    for s in &SHORTCUTS {
        if typing && !s.key.modifiers.command {
            continue;
        }
        // Escape is left to other widgets unless there is something to close.
        if s.action == Action::Close && !(view.show_help || view.show_about) {
            continue;
        }
        if ctx.input_mut(|i| i.consume_shortcut(&s.key)) {
            apply(s.action, runs, view, cmds);
        }
    }
}
