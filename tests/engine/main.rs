//! Engine tests, all on burn's CPU backend (flex). One binary: each extra test binary would
//! link all of burn again.

mod agreement;
mod app;
mod app_fit;
mod app_views;
mod checkpoint;
mod cli;
mod cli_docs;
mod common;
mod cpu;
mod data;
mod disentangle;
mod explore;
mod explore_app;
mod explore_tools;
mod faults;
mod fit;
mod folder;
mod fuzz_regressions;
mod guide;
mod hardening;
mod help;
mod import;
mod imports;
mod json_shape;
mod math;
mod metrics_out;
mod reproduce;
mod rundir;
mod schedule;
mod shader;
mod sweep;
mod sweep_app;
mod training;
mod variants;
mod zoo;
