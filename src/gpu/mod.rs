//! Everything that touches wgpu or burn's internals: the one wgpu device shared by eframe and
//! burn, and the painter that draws decoder outputs from GPU buffers (`shaders/tiles.wgsl`).

pub mod tensor_buffer;
pub mod tiles;

use std::sync::Arc;

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuSetup;
use eframe::egui_wgpu::{self, WgpuSetupCreateNew};
use eframe::wgpu;

pub use tensor_buffer::{GpuError, GpuTensor};
pub use tiles::{Colormap, TileCallback, TileParams, TileSource};

/// What eframe should ask of the adapter: everything it offers (cubecl needs the full
/// limits and features), except mappable primary buffers, which slow ordinary buffers.
pub fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    wgpu::DeviceDescriptor {
        label: Some("latent-explorer shared device"),
        required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
        required_limits: adapter.limits(),
        ..Default::default()
    }
}

/// eframe's wgpu options: create a new device with [`device_descriptor`].
pub fn wgpu_configuration() -> egui_wgpu::WgpuConfiguration {
    let mut setup = WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor = Arc::new(device_descriptor);
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: egui_wgpu::WgpuSetup::CreateNew(setup),
        ..Default::default()
    }
}

/// Whether the adapter is a software rasteriser (llvmpipe/lavapipe, WARP, SwiftShader).
pub fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == wgpu::DeviceType::Cpu
        || info.name.to_lowercase().contains("llvmpipe")
        || info.name.to_lowercase().contains("swiftshader")
}

/// When every wgpu adapter of this machine is a software rasteriser ([`is_software`]), the
/// description of the one a default wgpu device lands on (the first, [`describe`]); `None`
/// when a GPU is there or no adapter is (creating the device then fails and says so).
pub fn software_only_adapter() -> Option<String> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::all() - wgpu::Backends::BROWSER_WEBGPU,
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let adapters = pollster::block_on(
        instance.enumerate_adapters(wgpu::Backends::all() - wgpu::Backends::BROWSER_WEBGPU),
    );
    let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(wgpu::Adapter::get_info).collect();
    if infos.is_empty() || !infos.iter().all(is_software) {
        return None;
    }
    infos.first().map(describe)
}

/// A one-line description of an adapter.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

/// Create a burn device on eframe's own wgpu device and queue (one device for both).
pub fn shared_burn_device(rs: &egui_wgpu::RenderState) -> Result<Device, String> {
    let setup = WgpuSetup {
        instance: rs.instance.clone(),
        adapter: rs.adapter.clone(),
        device: rs.device.clone(),
        queue: rs.queue.clone(),
        backend: rs.adapter.get_info().backend,
    };
    Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| e.to_string())
}
