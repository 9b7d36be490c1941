//! `latent-explorer`: the command-line entry point.

use latent_explorer::cli::run_args;

/// mimalloc keeps freed memory for reuse: burn allocates a fresh buffer per tensor op, and
/// on these VMs returning and re-faulting pages costs more than the arithmetic.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_t`, the same in mimalloc 2
/// and 3). By default freed memory goes back to the system after a delay, and training
/// frees and allocates the same buffers every step: in `bench` of the MLP, two transparent
/// huge pages (2 MiB each, zeroed by the kernel) were faulted in again per step, 9% of a
/// two-lane run's samples in `perf`. Never purging keeps the process at its peak, which
/// every training step reaches anyway.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The default log: warnings from this program; errors only from the graphics stack, and
/// nothing from wgpu's hardware layer, whose adapter probing logs an error for every
/// backend it cannot load (e.g. GL without a DRI driver) before it picks one that works.
/// Failures that matter reach this program as errors and are reported once. More with
/// `RUST_LOG`, e.g. `RUST_LOG=info` or `RUST_LOG=warn,wgpu_hal=warn`.
const DEFAULT_LOG: &str = "warn,wgpu_hal=off,wgpu_core=error,naga=error,egui_wgpu=error,\
                           eframe=error,winit=error,cubecl_wgpu=error,cubecl_runtime=error,\
                           egui_system_font_provider=error";

fn main() -> std::process::ExitCode {
    // SAFETY: sets one of mimalloc's option values (an atomic store), which it reads when
    // it next considers purging; -1 is its documented "never".
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // Before any thread exists (the invariant `set_var` needs): a runtime directory for the
    // graphics drivers, which otherwise each print a raw error when it is missing.
    let runtime_dir = latent_explorer::backend::ensure_runtime_dir();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match runtime_dir {
        Ok(Some(dir)) => tracing::debug!("XDG_RUNTIME_DIR was unusable; using {}", dir.display()),
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}"),
    }
    match run_args() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if let Some(i) = e.downcast_ref::<latent_explorer::interrupt::Interrupted>() {
                eprintln!("{i}");
                return std::process::ExitCode::from(latent_explorer::interrupt::EXIT_INTERRUPTED);
            }
            eprintln!("error: {}", latent_explorer::report::error_line(e.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}
