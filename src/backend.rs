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

/// What a software rasteriser as the only wgpu adapter means for training, said when it is
/// chosen.
pub const SOFTWARE_ADAPTER_NOTE: &str = "wgpu: no GPU adapter, only a software rasteriser (a CPU Vulkan driver such as lavapipe): compiling its kernels takes a minute or two before the first step, and it then trains hundreds of times slower than the CPU backend (measured on 2 cores: 66 against ~30,000 images/s). Use `--backend cpu` on this machine";

/// A compute device and what it runs on.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The (non-autodiff) device.
    pub device: Device,
    /// wgpu on a software rasteriser: no GPU was found ([`SOFTWARE_ADAPTER_NOTE`]).
    pub software: bool,
}

impl BackendChoice {
    /// Create the (non-autodiff) device, and say whether it is a software rasteriser.
    pub fn open(self) -> Result<Opened, BackendError> {
        match self {
            Self::Cpu => Ok(Opened {
                device: Device::flex(),
                software: false,
            }),
            Self::Wgpu => {
                let software = crate::gpu::software_only_adapter().is_some();
                Device::wgpu_options()
                    .init()
                    .or_else(|_| {
                        // Where the default device skips software adapters, name one.
                        Device::wgpu_options().device_kind(DeviceKind::Cpu).init()
                    })
                    .map(|device| Opened { device, software })
                    .map_err(|e| BackendError(e.to_string()))
            }
        }
    }

    /// Create the (non-autodiff) device; a software rasteriser is logged as a warning with
    /// [`SOFTWARE_ADAPTER_NOTE`].
    pub fn device(self) -> Result<Device, BackendError> {
        let opened = self.open()?;
        if opened.software {
            tracing::warn!("{SOFTWARE_ADAPTER_NOTE}");
        }
        Ok(opened.device)
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
/// per start. When it is unset or unusable, a private directory (`latent-explorer-runtime-UID`,
/// mode 0700, owned by this user) is made in the temporary directory, else in the user's
/// cache directory, and the variable set; returns that directory, or `None` when the
/// existing one was fine. When neither can be made the error says why (for the caller to
/// report once) and the drivers stay quiet.
///
/// It sets an environment variable, so it must be called before any other thread starts.
pub fn ensure_runtime_dir() -> Result<Option<std::path::PathBuf>, RuntimeDirError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
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
        // The temporary directory first, then the user's cache directory.
        let name = format!("latent-explorer-runtime-{uid}");
        let mut candidates = vec![std::env::temp_dir().join(&name)];
        if let Some(cache) = std::env::var_os("XDG_CACHE_HOME")
            .filter(|c| !c.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        {
            candidates.push(cache.join(name));
        }
        let mut first_error = None;
        for path in &candidates {
            match make_private_dir(path, uid) {
                Ok(()) => {
                    // SAFETY: the caller runs this before starting any thread (see above),
                    // so no other thread reads or writes the environment concurrently.
                    unsafe { std::env::set_var("XDG_RUNTIME_DIR", path) };
                    return Ok(Some(path.clone()));
                }
                Err(why) => {
                    first_error.get_or_insert(RuntimeDirError {
                        path: path.clone(),
                        why,
                    });
                }
            }
        }
        // None is usable. libwayland prints "XDG_RUNTIME_DIR is invalid or not set" each
        // time a driver probes for a display while the variable is unset or relative (four
        // times per wgpu start); set to an absolute path that does not work, the probe
        // fails the same way without a word. The caller reports the error once.
        if std::env::var_os("XDG_RUNTIME_DIR")
            .is_none_or(|p| !std::path::Path::new(&p).is_absolute())
        {
            // SAFETY: as above, no other thread exists yet.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &candidates[0]) };
        }
        // `candidates` is never empty, so an error was recorded.
        Err(first_error.unwrap_or_else(|| RuntimeDirError {
            path: candidates[0].clone(),
            why: "no candidate directory".into(),
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// Create `path` as a directory private to `uid` (mode 0700), or accept it if it already is
/// one (never another user's directory or a link); the reason when neither works.
#[cfg(unix)]
fn make_private_dir(path: &std::path::Path, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.to_string()),
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err("it exists and is not this user's directory".into());
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// This process's real user id.
#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
