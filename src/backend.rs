//! Choosing the compute device: burn's CPU backend (flex) or wgpu.

use burn::tensor::{Device, DeviceKind};
use thiserror::Error;

/// Which burn backend to run on.
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
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// burn's CPU backend (flex): fast on any machine.
    #[default]
    Cpu,
    /// wgpu on the best adapter found (a GPU, or a software Vulkan driver if none).
    Wgpu,
}

/// The wgpu device could not be created.
#[derive(Debug, Error)]
#[error(
    "no usable wgpu adapter: {0}. Install a Vulkan driver (e.g. `apt-get install mesa-vulkan-drivers`) or use --backend cpu"
)]
pub struct BackendError(pub String);

impl BackendChoice {
    /// Create the (non-autodiff) device.
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            Self::Wgpu => Device::wgpu_options()
                .init()
                .or_else(|_| {
                    // cubecl skips software adapters by default; fall back to one explicitly.
                    Device::wgpu_options().device_kind(DeviceKind::Cpu).init()
                })
                .map_err(|e| BackendError(e.to_string())),
        }
    }
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu (flex)",
            Self::Wgpu => "wgpu",
        })
    }
}

/// No usable `XDG_RUNTIME_DIR`, and none could be made.
#[derive(Debug, Error)]
#[error("XDG_RUNTIME_DIR is unset or unusable and {path} cannot serve instead: {why}")]
pub struct RuntimeDirError {
    /// The directory tried.
    pub path: std::path::PathBuf,
    /// What went wrong.
    pub why: String,
}

/// Make sure `XDG_RUNTIME_DIR` names a private, writable directory. Graphics drivers (Mesa's
/// EGL and Vulkan loaders, Wayland) each print a raw error when it does not, several times
/// per start. When it is unset or unusable, a private directory in the temporary directory
/// (`latent-explorer-runtime-UID`, mode 0700, owned by this user) is made and the variable
/// set; returns that directory, or `None` when the existing one was fine.
///
/// It sets an environment variable, so it must be called before any other thread starts.
pub fn ensure_runtime_dir() -> Result<Option<std::path::PathBuf>, RuntimeDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let uid = current_uid();
        let usable = |p: &std::path::Path| {
            std::fs::metadata(p).is_ok_and(|m| {
                m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o700 == 0o700
            })
        };
        if let Some(p) = std::env::var_os("XDG_RUNTIME_DIR")
            && !p.is_empty()
            && usable(std::path::Path::new(&p))
        {
            return Ok(None);
        }
        let path = std::env::temp_dir().join(format!("latent-explorer-runtime-{uid}"));
        let err = |why: String| RuntimeDirError {
            path: path.clone(),
            why,
        };
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(err(e.to_string())),
        }
        // An existing path must be our own directory (not another user's, not a link).
        let meta = std::fs::symlink_metadata(&path).map_err(|e| err(e.to_string()))?;
        if !meta.is_dir() || meta.uid() != uid {
            return Err(err("it exists and is not this user's directory".into()));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| err(e.to_string()))?;
        }
        // SAFETY: the caller runs this before starting any thread (see above), so no other
        // thread reads or writes the environment concurrently.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &path) };
        Ok(Some(path))
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// This process's real user id.
#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
