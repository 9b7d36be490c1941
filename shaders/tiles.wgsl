// Draws an N×M grid of tiles straight from a storage buffer of f32 intensities. Each tile
// is `channels` planes of tile_w × tile_h values, row-major, tiles one after another
// starting at `offset` (in floats): one plane is grey (through the colour map), three are
// red, green and blue. Tiles are separated by `gap` data pixels of gap colour; the tile
// `highlight` (if ≥ 0) gets a coloured ring in its surrounding gap. Nearest sampling.
// The CPU reference for this shader is `gpu::tiles::reference_pixel` (keep them in step).

struct Params {
    cols: u32,
    rows: u32,
    tile_w: u32,
    tile_h: u32,
    offset: u32,
    count: u32,
    colormap: u32,
    highlight: i32,
    gap: f32,
    channels: u32,
    _pad1: f32,
    _pad2: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> data: array<f32>;

struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VsOut {
    var corners = array<vec2<f32>, 4>(
        vec2<f32>(0.0, 0.0), vec2<f32>(1.0, 0.0), vec2<f32>(0.0, 1.0), vec2<f32>(1.0, 1.0)
    );
    let c = corners[i];
    var out: VsOut;
    out.pos = vec4<f32>(c.x * 2.0 - 1.0, 1.0 - c.y * 2.0, 0.0, 1.0);
    out.uv = c;
    return out;
}

const GAP_COLOR: vec3<f32> = vec3<f32>(0.12, 0.12, 0.14);
const EMPTY_COLOR: vec3<f32> = vec3<f32>(0.2, 0.2, 0.22);
const HIGHLIGHT_COLOR: vec3<f32> = vec3<f32>(1.0, 0.6, 0.0);

// Polynomial fit of matplotlib's viridis (Matt Zucker, CC0).
fn viridis(t: f32) -> vec3<f32> {
    let c0 = vec3<f32>(0.2777273272234177, 0.005407344544966578, 0.3340998053353061);
    let c1 = vec3<f32>(0.1050930431085774, 1.404613529898575, 1.384590162594685);
    let c2 = vec3<f32>(-0.3308618287255563, 0.214847559468213, 0.09509516302823659);
    let c3 = vec3<f32>(-4.634230498983486, -5.799100973351585, -19.33244095627987);
    let c4 = vec3<f32>(6.228269936347081, 14.17993336680509, 56.69055260068105);
    let c5 = vec3<f32>(4.776384997670288, -13.74514537774601, -65.35303263337234);
    let c6 = vec3<f32>(-5.435455855934631, 4.645852612178535, 26.3124352495832);
    return clamp(c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6))))), vec3<f32>(0.0), vec3<f32>(1.0));
}

fn colorize(v: f32) -> vec3<f32> {
    if params.colormap == 1u {
        return viridis(v);
    }
    return vec3<f32>(v, v, v);
}

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    let g = params.gap;
    let tw = f32(params.tile_w);
    let th = f32(params.tile_h);
    let total = vec2<f32>(
        f32(params.cols) * tw + f32(params.cols + 1u) * g,
        f32(params.rows) * th + f32(params.rows + 1u) * g
    );
    let p = in.uv * total;
    let cell = vec2<f32>(tw + g, th + g);
    let q = p - vec2<f32>(g, g);
    let t = floor(q / cell);
    let local = q - t * cell;
    let tx = i32(t.x);
    let ty = i32(t.y);
    let inside = tx >= 0 && ty >= 0 && tx < i32(params.cols) && ty < i32(params.rows)
        && local.x < tw && local.y < th;
    if inside {
        let tile = u32(ty) * params.cols + u32(tx);
        if tile >= params.count {
            return vec4<f32>(EMPTY_COLOR, 1.0);
        }
        let px = min(u32(local.x), params.tile_w - 1u);
        let py = min(u32(local.y), params.tile_h - 1u);
        let plane = params.tile_w * params.tile_h;
        let i = params.offset + tile * plane * max(params.channels, 1u) + py * params.tile_w + px;
        if params.channels >= 3u {
            let rgb = vec3<f32>(data[i], data[i + plane], data[i + 2u * plane]);
            return vec4<f32>(clamp(rgb, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
        }
        return vec4<f32>(colorize(clamp(data[i], 0.0, 1.0)), 1.0);
    }
    if params.highlight >= 0 {
        let h = u32(params.highlight);
        let x0 = g + f32(h % params.cols) * cell.x;
        let y0 = g + f32(h / params.cols) * cell.y;
        if p.x >= x0 - g && p.x < x0 + tw + g && p.y >= y0 - g && p.y < y0 + th + g {
            return vec4<f32>(HIGHLIGHT_COLOR, 1.0);
        }
    }
    return vec4<f32>(GAP_COLOR, 1.0);
}
