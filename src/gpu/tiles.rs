//! The tile-grid painter: draws decoder outputs (a flat buffer of `f32` intensities) as an
//! N×M grid of tiles with the WGSL shader `shaders/tiles.wgsl`. The data comes either from
//! the host (uploaded into a storage buffer the painter owns) or straight from a burn wgpu
//! tensor's own storage buffer ([`GpuTensor`]): one shader and one painter for both.

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor};
use eframe::wgpu;
use eframe::wgpu::util::DeviceExt;

use super::tensor_buffer::GpuTensor;

/// The shader source, compiled into the binary.
pub const SHADER: &str = include_str!("../../shaders/tiles.wgsl");

/// Colour maps the shader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Colormap {
    /// Black to white.
    #[default]
    Gray,
    /// Perceptually uniform viridis.
    Viridis,
}

/// The shader's uniform block (layout must match `Params` in the WGSL).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct TileParams {
    /// Tiles per row.
    pub cols: u32,
    /// Rows of tiles.
    pub rows: u32,
    /// Tile width in data pixels.
    pub tile_w: u32,
    /// Tile height in data pixels.
    pub tile_h: u32,
    /// Given by the caller: the first tile to draw (tiles before it are skipped, so one
    /// tile of a strip can be drawn alone); the painter turns it into the offset of that
    /// tile's first value in the buffer, in floats, before the shader sees it.
    pub offset: u32,
    /// Tiles that hold data (the rest of the grid is drawn empty).
    pub count: u32,
    /// 0 gray, 1 viridis.
    pub colormap: u32,
    /// Tile to ring, or −1.
    pub highlight: i32,
    /// Gap between tiles, in data pixels.
    pub gap: f32,
    /// Channel planes per tile: 1 grey (drawn through the colour map), 3 RGB (a tile is
    /// its red, green and blue planes one after another; the colour map does not apply).
    pub channels: u32,
    /// Padding to 16 bytes.
    pub _pad: [f32; 2],
}

impl TileParams {
    /// A grid of `cols × rows` tiles of `tile_w × tile_h` holding `count` tiles of data.
    pub fn new(cols: u32, rows: u32, tile_w: u32, tile_h: u32, count: u32) -> Self {
        Self {
            cols: cols.max(1),
            rows: rows.max(1),
            tile_w: tile_w.max(1),
            tile_h: tile_h.max(1),
            offset: 0,
            count,
            colormap: 0,
            highlight: -1,
            gap: 1.0,
            channels: 1,
            _pad: [0.0; 2],
        }
    }

    /// Tiles of `channels` planes (1 grey, 3 RGB).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels.clamp(1, 4) as u32;
        self
    }

    /// Floats of one tile: `tile_w · tile_h · channels`.
    pub fn tile_floats(&self) -> usize {
        (self.tile_w * self.tile_h).max(1) as usize * self.channels.max(1) as usize
    }

    /// Set the colour map.
    pub fn with_colormap(mut self, c: Colormap) -> Self {
        self.colormap = match c {
            Colormap::Gray => 0,
            Colormap::Viridis => 1,
        };
        self
    }

    /// Draw from tile `first` on (see [`TileParams::offset`]).
    pub fn with_first_tile(mut self, first: u32) -> Self {
        self.offset = first;
        self
    }

    /// Set the gap.
    pub fn with_gap(mut self, gap: f32) -> Self {
        self.gap = gap.max(0.0);
        self
    }

    /// Ring tile `i` (or none).
    pub fn with_highlight(mut self, i: Option<u32>) -> Self {
        self.highlight = i.map_or(-1, |i| i as i32);
        self
    }

    /// Size of the whole grid in data pixels `(width, height)`.
    pub fn extent(&self) -> (f32, f32) {
        let g = self.gap;
        (
            self.cols as f32 * self.tile_w as f32 + (self.cols + 1) as f32 * g,
            self.rows as f32 * self.tile_h as f32 + (self.rows + 1) as f32 * g,
        )
    }

    /// Floats the shader may read: `(first tile + count) · tile_w · tile_h · channels`.
    pub fn floats_needed(&self) -> usize {
        (self.offset as usize + self.count as usize) * self.tile_floats()
    }
}

/// Where the tile values live.
#[derive(Clone)]
pub enum TileSource {
    /// Host floats, uploaded into the painter's own storage buffer.
    Host(Arc<Vec<f32>>),
    /// A burn wgpu tensor's storage buffer, bound as it is (no read-back).
    Device(Arc<GpuTensor>),
}

impl TileSource {
    fn len_floats(&self) -> usize {
        match self {
            Self::Host(v) => v.len(),
            Self::Device(t) => t.len_floats(),
        }
    }
}

/// Pipeline and bind-group layout for one render target format.
pub struct TilePipeline {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
}

impl TilePipeline {
    /// Compile the shader for `format`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tiles.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tiles"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only: true },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tiles"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("tiles"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        Self { pipeline, layout }
    }
}

/// GPU state of one drawn grid: its uniform, its host-upload buffer (if any), the bind group,
/// and the tensor it binds (kept alive while bound).
struct Slot {
    uniform: wgpu::Buffer,
    host: Option<(wgpu::Buffer, u64)>,
    bind_group: Option<wgpu::BindGroup>,
    version: u64,
    params: TileParams,
    _bound: Option<Arc<GpuTensor>>,
}

impl Slot {
    fn new(device: &wgpu::Device) -> Self {
        let uniform = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("tile params"),
            contents: bytemuck::bytes_of(&TileParams::new(1, 1, 1, 1, 0)),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        Self {
            uniform,
            host: None,
            bind_group: None,
            version: u64::MAX,
            params: TileParams::new(1, 1, 1, 1, 0),
            _bound: None,
        }
    }

    /// Bring the slot up to date with `version` of `source` and `params`.
    fn update(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        pipeline: &TilePipeline,
        source: &TileSource,
        params: TileParams,
        version: u64,
    ) {
        let mut params = params;
        // Never let the shader read past the data it was given.
        let per = params.tile_floats();
        let first = params.offset as usize;
        let max_tiles = (source.len_floats() / per).saturating_sub(first);
        params.offset = match source {
            TileSource::Host(_) => 0,
            TileSource::Device(t) => t.offset_floats() as u32,
        } + (first.min(source.len_floats() / per) * per) as u32;
        params.count = params.count.min(max_tiles as u32);
        if params != self.params {
            queue.write_buffer(&self.uniform, 0, bytemuck::bytes_of(&params));
            self.params = params;
        }
        if version == self.version && self.bind_group.is_some() {
            return;
        }
        self.version = version;
        let storage: wgpu::BufferBinding = match source {
            TileSource::Host(data) => {
                let bytes = (data.len().max(1) * 4) as u64;
                let needs_new = self.host.as_ref().is_none_or(|(_, cap)| *cap < bytes);
                if needs_new {
                    let cap = bytes.next_power_of_two().max(256);
                    let buf = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("tile data"),
                        size: cap,
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    self.host = Some((buf, cap));
                }
                let Some((buf, _)) = &self.host else {
                    return;
                };
                if !data.is_empty() {
                    queue.write_buffer(buf, 0, bytemuck::cast_slice(data.as_slice()));
                }
                self._bound = None;
                buf.as_entire_buffer_binding()
            }
            TileSource::Device(t) => {
                self._bound = Some(t.clone());
                t.buffer().as_entire_buffer_binding()
            }
        };
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tiles"),
            layout: &pipeline.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Buffer(storage),
                },
            ],
        }));
    }

    fn draw(&self, pipeline: &TilePipeline, pass: &mut wgpu::RenderPass<'_>) {
        if let Some(bg) = &self.bind_group {
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, bg, &[]);
            pass.draw(0..4, 0..1);
        }
    }
}

/// Painter state stored once in egui's callback resources.
pub struct TileResources {
    pipeline: TilePipeline,
    slots: HashMap<u64, Slot>,
}

impl TileResources {
    /// Create for the egui render target format.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> Self {
        Self {
            pipeline: TilePipeline::new(device, format),
            slots: HashMap::new(),
        }
    }
}

/// Register the painter with eframe's renderer (call once at start-up).
pub fn install(render_state: &egui_wgpu::RenderState) {
    let res = TileResources::new(&render_state.device, render_state.target_format);
    render_state.renderer.write().callback_resources.insert(res);
}

/// Free the painter slots whose key satisfies `doomed` (e.g. a removed run's), with their
/// GPU buffers and the tensors they kept alive. Returns how many were freed.
pub fn free_slots(render_state: &egui_wgpu::RenderState, doomed: impl Fn(u64) -> bool) -> usize {
    let mut renderer = render_state.renderer.write();
    let Some(res) = renderer.callback_resources.get_mut::<TileResources>() else {
        return 0;
    };
    let before = res.slots.len();
    res.slots.retain(|k, _| !doomed(*k));
    before - res.slots.len()
}

/// The keys of the painter slots that exist now.
pub fn slot_keys(render_state: &egui_wgpu::RenderState) -> Vec<u64> {
    let renderer = render_state.renderer.read();
    let mut keys: Vec<u64> = renderer
        .callback_resources
        .get::<TileResources>()
        .map(|res| res.slots.keys().copied().collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// One grid to draw this frame. `key` identifies the panel; `version` changes whenever the
/// data changes (unchanged data is not uploaded again).
pub struct TileCallback {
    /// Panel identity.
    pub key: u64,
    /// Data version.
    pub version: u64,
    /// Layout and colours.
    pub params: TileParams,
    /// The values.
    pub source: TileSource,
}

impl CallbackTrait for TileCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(res) = resources.get_mut::<TileResources>() {
            let TileResources { pipeline, slots } = res;
            slots
                .entry(self.key)
                .or_insert_with(|| Slot::new(device))
                .update(
                    device,
                    queue,
                    pipeline,
                    &self.source,
                    self.params,
                    self.version,
                );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: eframe::egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        if let Some(res) = resources.get::<TileResources>()
            && let Some(slot) = res.slots.get(&self.key)
        {
            slot.draw(&res.pipeline, pass);
        }
    }
}

/// The shader's colour for value `v`, computed on the CPU in `f32` as the shader does.
pub fn colorize(v: f32, colormap: u32) -> [f32; 3] {
    if colormap == 1 {
        let c: [[f32; 3]; 7] = [
            [0.277_727_33, 0.005_407_344_5, 0.334_099_8],
            [0.105_093_04, 1.404_613_5, 1.384_590_2],
            [-0.330_861_83, 0.214_847_56, 0.095_095_16],
            [-4.634_230_6, -5.799_101, -19.332_441],
            [6.228_27, 14.179_933, 56.690_55],
            [4.776_385, -13.745_145, -65.353_03],
            [-5.435_456, 4.645_852_6, 26.312_435],
        ];
        let mut out = [0.0; 3];
        for (k, o) in out.iter_mut().enumerate() {
            let mut acc = c[6][k];
            for i in (0..6).rev() {
                acc = c[i][k] + v * acc;
            }
            *o = acc.clamp(0.0, 1.0);
        }
        out
    } else {
        [v, v, v]
    }
}

/// The colour the shader draws at data-pixel position `(x, y)` (pixel centre coordinates in
/// the grid's own units) for `params` as a caller gives them (`offset` = the first tile,
/// `count` capped by the tiles `data` holds from there): the CPU reference for
/// `tiles.wgsl`.
pub fn reference_pixel(params: &TileParams, data: &[f32], x: f32, y: f32) -> [f32; 3] {
    let per = params.tile_floats();
    let first = params.offset as usize;
    let available = (data.len() / per).saturating_sub(first);
    let params = &TileParams {
        offset: (first.min(data.len() / per) * per) as u32,
        count: params.count.min(available as u32),
        ..*params
    };
    const GAP: [f32; 3] = [0.12, 0.12, 0.14];
    const EMPTY: [f32; 3] = [0.2, 0.2, 0.22];
    const HIGHLIGHT: [f32; 3] = [1.0, 0.6, 0.0];
    let g = params.gap;
    let (tw, th) = (params.tile_w as f32, params.tile_h as f32);
    let (cw, ch) = (tw + g, th + g);
    let (qx, qy) = (x - g, y - g);
    let (tx, ty) = ((qx / cw).floor(), (qy / ch).floor());
    let (lx, ly) = (qx - tx * cw, qy - ty * ch);
    let inside = tx >= 0.0
        && ty >= 0.0
        && (tx as i64) < params.cols as i64
        && (ty as i64) < params.rows as i64
        && lx < tw
        && ly < th;
    if inside {
        let tile = ty as u32 * params.cols + tx as u32;
        if tile >= params.count {
            return EMPTY;
        }
        let px = (lx as u32).min(params.tile_w - 1);
        let py = (ly as u32).min(params.tile_h - 1);
        let plane = (params.tile_w * params.tile_h) as usize;
        let idx = params.offset as usize + tile as usize * per + (py * params.tile_w + px) as usize;
        let value = |i: usize| data.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
        if params.channels >= 3 {
            return [value(idx), value(idx + plane), value(idx + 2 * plane)];
        }
        return colorize(value(idx), params.colormap);
    }
    if params.highlight >= 0 {
        let h = params.highlight as u32;
        let x0 = g + (h % params.cols) as f32 * cw;
        let y0 = g + (h / params.cols) as f32 * ch;
        if x >= x0 - g && x < x0 + tw + g && y >= y0 - g && y < y0 + th + g {
            return HIGHLIGHT;
        }
    }
    GAP
}

/// Draw `source` with `params` into a new `width × height` RGBA8 texture with the same
/// pipeline the app uses, read it back, and return the pixels (row-major RGBA). For tests
/// and headless image export. Fails if the read-back cannot be mapped.
pub fn render_offscreen(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    source: &TileSource,
    params: TileParams,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, String> {
    let format = wgpu::TextureFormat::Rgba8Unorm;
    let pipeline = TilePipeline::new(device, format);
    let mut slot = Slot::new(device);
    slot.update(device, queue, &pipeline, source, params, 0);
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("offscreen tiles"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let row = (width * 4).div_ceil(256) * 256;
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("offscreen readback"),
        size: (row * height) as u64,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("offscreen tiles"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        slot.draw(&pipeline, &mut pass);
    }
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture: &texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([encoder.finish()]);
    let slice = readback.slice(..);
    slice.map_async(wgpu::MapMode::Read, |_| {});
    let _ = device.poll(wgpu::PollType::wait_indefinitely());
    let mapped = slice
        .get_mapped_range()
        .map_err(|e| format!("reading back the offscreen image: {e:?}"))?;
    let mut out = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height as usize {
        let start = y * row as usize;
        out.extend_from_slice(&mapped[start..start + width as usize * 4]);
    }
    drop(mapped);
    readback.unmap();
    Ok(out)
}
