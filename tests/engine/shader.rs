//! The tile shader against its CPU reference, on a real wgpu adapter (lavapipe in CI):
//! from host floats uploaded by the painter, and from a burn wgpu tensor's own buffer.

use burn::tensor::wgpu::WgpuSetup;
use burn::tensor::{Device, Tensor, TensorData};
use eframe::wgpu;
use latent_explorer::gpu::tiles::{TileParams, TileSource, reference_pixel, render_offscreen};
use latent_explorer::gpu::{Colormap, GpuTensor, device_descriptor};

/// A wgpu device on whatever adapter exists (software is fine). Fails loudly if none.
pub fn wgpu_device() -> (wgpu::Instance, wgpu::Adapter, wgpu::Device, wgpu::Queue) {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::VULKAN | wgpu::Backends::GL,
        flags: wgpu::InstanceFlags::default(),
        backend_options: wgpu::BackendOptions::default(),
        memory_budget_thresholds: wgpu::MemoryBudgetThresholds::default(),
        display: None,
    });
    let adapter = pollster_block(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        force_fallback_adapter: false,
        compatible_surface: None,
        apply_limit_buckets: false,
    }))
    .expect("no wgpu adapter: install mesa-vulkan-drivers (lavapipe)");
    let (device, queue) =
        pollster_block(adapter.request_device(&device_descriptor(&adapter))).expect("device");
    (instance, adapter, device, queue)
}

/// Minimal executor for wgpu's futures (they complete on native without a runtime).
pub fn pollster_block<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// 3×2 tiles of 28×28, a ramp over every value.
fn ramp() -> Vec<f32> {
    let n = 6 * 28 * 28;
    (0..n).map(|i| i as f32 / (n - 1) as f32).collect()
}

fn compare(pixels: &[u8], params: &TileParams, data: &[f32], w: u32, h: u32) {
    let mut worst = 0.0f32;
    for y in 0..h {
        for x in 0..w {
            let want = reference_pixel(params, data, x as f32 + 0.5, y as f32 + 0.5);
            let i = ((y * w + x) * 4) as usize;
            for c in 0..3 {
                let got = pixels[i + c] as f32 / 255.0;
                let diff = (got - want[c]).abs();
                worst = worst.max(diff);
                assert!(
                    diff <= 1.0 / 255.0 + 1e-6,
                    "pixel ({x},{y}) channel {c}: shader {got} vs reference {}",
                    want[c]
                );
            }
        }
    }
    println!("max |shader − reference| = {worst}");
}

fn params(colormap: Colormap, highlight: Option<u32>) -> (TileParams, u32, u32) {
    let p = TileParams::new(3, 2, 28, 28, 6)
        .with_gap(2.0)
        .with_colormap(colormap)
        .with_highlight(highlight);
    let (w, h) = p.extent();
    (p, w as u32, h as u32)
}

#[test]
fn colour_tiles_draw_their_three_planes_like_the_cpu_reference() {
    // 3×2 tiles of 3 planes of 5×4 values, each value distinct, channels unlike each other.
    let per = 5 * 4 * 3;
    let data: Vec<f32> = (0..6 * per)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let p = TileParams::new(3, 2, 5, 4, 6)
        .with_gap(1.0)
        .with_channels(3)
        // The colour map does not apply to colour tiles.
        .with_colormap(Colormap::Viridis)
        .with_highlight(Some(2));
    // The reference itself, by hand: tile 4 (row 1, column 1), pixel (2, 3).
    let (x, y) = (1.0 + 6.0 + 2.0 + 0.5, 1.0 + 5.0 + 3.0 + 0.5);
    let k = 4 * per + 3 * 5 + 2;
    assert_eq!(
        reference_pixel(&p, &data, x, y),
        [data[k], data[k + 20], data[k + 40]]
    );
    let (w, h) = p.extent();
    let (w, h) = (w as u32, h as u32);
    let (_instance, _adapter, device, queue) = wgpu_device();
    let host = TileSource::Host(std::sync::Arc::new(data.clone()));
    let px = render_offscreen(&device, &queue, &host, p, w, h).unwrap();
    compare(&px, &p, &data, w, h);
    // Fewer values than the tiles claim: the painter draws only whole tiles.
    let short = TileSource::Host(std::sync::Arc::new(data[..4 * per + 7].to_vec()));
    let px = render_offscreen(&device, &queue, &short, p, w, h).unwrap();
    compare(&px, &p, &data[..4 * per + 7], w, h);
}

#[test]
fn shader_matches_cpu_reference_from_host_and_from_a_burn_tensor_buffer() {
    let (instance, adapter, device, queue) = wgpu_device();
    println!("adapter: {:?}", adapter.get_info());
    let data = ramp();
    let host = TileSource::Host(std::sync::Arc::new(data.clone()));
    for (cm, hl) in [(Colormap::Gray, None), (Colormap::Viridis, Some(4))] {
        let (p, w, h) = params(cm, hl);
        assert_eq!((w, h), (3 * 28 + 4 * 2, 2 * 28 + 3 * 2));
        let px = render_offscreen(&device, &queue, &host, p, w, h).unwrap();
        compare(&px, &p, &data, w, h);
    }
    // Fewer tiles than cells: the rest are drawn empty, not read out of bounds.
    let (mut p, w, h) = params(Colormap::Gray, None);
    p.count = 4;
    let px = render_offscreen(&device, &queue, &host, p, w, h).unwrap();
    compare(&px, &p, &data, w, h);
    // From the third tile on (an animation draws one tile of a strip): tiles 2..5 fill the
    // first four cells, the rest are empty; and a first tile past the data draws nothing.
    for first in [2, 9] {
        let (p, w, h) = params(Colormap::Gray, None);
        let p = p.with_first_tile(first);
        let px = render_offscreen(&device, &queue, &host, p, w, h).unwrap();
        compare(&px, &p, &data, w, h);
    }
    let (p, ..) = params(Colormap::Gray, None);
    assert_eq!(
        reference_pixel(&p.with_first_tile(2), &data, 2.5, 2.5),
        reference_pixel(&p, &data, 2.5 + 2.0 * 30.0, 2.5),
        "the first cell shows tile 2"
    );

    // The same pixels from the storage buffer of a burn wgpu tensor on this very device.
    let burn_device = Device::wgpu_options()
        .setup(WgpuSetup {
            instance,
            adapter: adapter.clone(),
            device: device.clone(),
            queue: queue.clone(),
            backend: adapter.get_info().backend,
        })
        .init()
        .expect("burn on the shared device");
    // Computed on the GPU (×2 then ×0.5) so the buffer is a kernel output, not an upload.
    let t: Tensor<2> = Tensor::from_data(TensorData::new(data.clone(), [6, 784]), &burn_device);
    let t = t.mul_scalar(2.0).mul_scalar(0.5);
    let gpu = GpuTensor::from_tensor(t).expect("tensor buffer");
    assert_eq!(gpu.len_floats(), data.len());
    let source = TileSource::Device(std::sync::Arc::new(gpu));
    for (cm, hl) in [(Colormap::Gray, Some(0)), (Colormap::Viridis, None)] {
        let (p, w, h) = params(cm, hl);
        let px = render_offscreen(&device, &queue, &source, p, w, h).unwrap();
        compare(&px, &p, &data, w, h);
    }
}
