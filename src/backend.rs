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
