//! Sharing a small machine between several training runs and the UI: a [`StepGate`] that
//! lets at most `slots` training steps run at once, admitting waiting runs in arrival order
//! (so every run makes progress), and the [`SharingPolicy`] that says how an app's runs share
//! it (training threads lowered by [`crate::cpu::priority::lower_thread_priority`]).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

/// Admits at most `slots` holders at a time, first come first served.
#[derive(Debug)]
pub struct StepGate {
    slots: usize,
    state: Mutex<GateState>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    next_ticket: u64,
    waiting: VecDeque<u64>,
    active: usize,
}

/// A place in the gate; the slot is given back when this is dropped.
#[derive(Debug)]
pub struct GateTicket<'a> {
    gate: &'a StepGate,
}

impl StepGate {
    /// A gate with `slots` places (at least one).
    pub fn new(slots: usize) -> Self {
        Self {
            slots: slots.max(1),
            state: Mutex::new(GateState::default()),
            turn: Condvar::new(),
        }
    }

    /// Places in the gate.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Wait for a place: callers are admitted in the order they arrived.
    pub fn enter(&self) -> GateTicket<'_> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let me = st.next_ticket;
        st.next_ticket += 1;
        st.waiting.push_back(me);
        while !(st.waiting.front() == Some(&me) && st.active < self.slots) {
            st = self.turn.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.waiting.pop_front();
        st.active += 1;
        drop(st);
        // The next in line may also fit.
        self.turn.notify_all();
        GateTicket { gate: self }
    }

    /// Holders inside the gate now.
    pub fn active(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).active
    }

    /// Callers waiting for a place now.
    pub fn waiting(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting
            .len()
    }
}

impl Drop for GateTicket<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.state.lock().unwrap_or_else(|p| p.into_inner());
        st.active = st.active.saturating_sub(1);
        drop(st);
        self.gate.turn.notify_all();
    }
}

/// How the training runs of one app share the CPU with each other and with the window.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SharingPolicy {
    /// Every run steps in its own thread at normal priority: the OS time-slices them.
    Free,
    /// Every run steps in its own thread, at lowered priority (the window comes first).
    /// Measured best with 4 runs on 2 cores under a software renderer: the window as fluid
    /// as with one run, and more training than with turns (see the guide's measurements page).
    #[default]
    LowPriority,
    /// Runs take turns: one training step at a time (each step may still use every core),
    /// first come first served.
    Gate,
    /// Turns, and lowered priority.
    GateLowPriority,
}

impl SharingPolicy {
    /// Places in the step gate, if runs take turns.
    pub fn gate_slots(self) -> Option<usize> {
        match self {
            Self::Gate | Self::GateLowPriority => Some(1),
            Self::Free | Self::LowPriority => None,
        }
    }

    /// Whether training threads run at lowered priority.
    pub fn low_priority(self) -> bool {
        matches!(self, Self::LowPriority | Self::GateLowPriority)
    }
}
