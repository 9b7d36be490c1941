//! Convolutions and transposed convolutions (2-D, one group, no dilation), each with its
//! bias and an optional ReLU, as one operation on the CPU backend with its own backward
//! step, used by the convolutional encoder and decoder.
//!
//! Each image of the batch is unfolded into columns (im2col: one row per input channel and
//! kernel offset, one column per output position) in a small scratch buffer that stays in
//! cache, and one `gemm` (the crate burn-flex calls) multiplies the weights into it; the
//! output starts from the bias and the ReLU is applied in the same pass. A transposed
//! convolution is the adjoint of a convolution: `gemm` with the transposed weights, then the
//! columns are folded back onto the image (col2im). The backward steps are the same
//! products the other way round, written directly: for a convolution, `∂W = Σ ∂y·colᵀ` and
//! `∂x = col2im(Wᵀ·∂y)`; for a transposed one, `∂W = Σ x·im2col(∂y)ᵀ` and
//! `∂x = W·im2col(∂y)`; `∂b` is each channel's sum of `∂y` (after the ReLU's mask).
//!
//! The images of a batch are cut into a fixed number of parts (it depends on the batch size
//! only) that rayon shares among its threads: inside a training lane that is one thread,
//! outside it every core. The weight gradient is summed part by part in order, so the
//! result does not depend on how many threads ran it.
//!
//! Every result is tested against burn's own `conv2d` / `conv_transpose2d` and its
//! autodiff gradients (`tests/engine/cpu.rs`).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::flex::{contiguous, flex_f32, from_vec, values};

/// At most this many parts of a batch are handed to rayon's threads (and as many partial
/// weight gradients summed).
const MAX_PARTS: usize = 8;

/// What follows a convolution, applied in the same pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Nothing: the convolution's output as it is.
    Identity,
    /// ReLU, which keeps NaN as burn's does.
    Relu,
}

impl Activation {
    /// The activation with burn's own operation (for the fallback path).
    fn burn(self, y: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Identity => y,
            Self::Relu => burn::tensor::activation::relu(y),
        }
    }
}

/// `act(layer.forward(x))`, as one operation on the CPU backend (see the module's text).
/// Anything else (another backend, no bias, groups, dilation, `Same` padding, shapes burn
/// would refuse) goes to burn's own `Conv2d`.
pub fn conv2d(layer: &Conv2d, x: Tensor<4>, act: Activation) -> Tensor<4> {
    let fallback = |x: Tensor<4>| act.burn(layer.forward(x));
    let Some(bias) = &layer.bias else {
        return fallback(x);
    };
    let [batch, ci, h, w] = x.dims();
    let weight = layer.weight.val();
    let [co, wci, kh, kw] = weight.dims();
    let (top, left, bottom, right) = match layer.padding {
        PaddingConfig2d::Valid => (0, 0, 0, 0),
        PaddingConfig2d::Explicit(top, left, bottom, right) => (top, left, bottom, right),
        PaddingConfig2d::Same => return fallback(x),
    };
    let [sh, sw] = layer.stride;
    let out_side = |side: usize, pads: usize, k: usize, s: usize| {
        (side + pads).checked_sub(k).map(|d| d / s + 1)
    };
    let (Some(oh), Some(ow)) = (
        out_side(h, top + bottom, kh, sh.max(1)),
        out_side(w, left + right, kw, sw.max(1)),
    ) else {
        return fallback(x);
    };
    let geom = Geom {
        c: ci,
        ih: h,
        iw: w,
        kh,
        kw,
        sh,
        sw,
        ph: top,
        pw: left,
        oh,
        ow,
    };
    let supported = layer.groups == 1
        && layer.dilation == [1, 1]
        && wci == ci
        && [kh, kw] == layer.kernel_size
        && bias.dims() == [co]
        && geom.valid()
        && batch * co > 0;
    if !supported {
        return fallback(x);
    }
    let spec = Spec {
        transposed: false,
        batch,
        geom,
        other: co,
        act,
    };
    run(spec, x, weight, bias.val()).unwrap_or_else(fallback)
}

/// `act(layer.forward(x))` for a transposed convolution, as one operation on the CPU
/// backend (see the module's text). Anything else (another backend, no bias, groups,
/// dilation, an output padding not below the stride, shapes burn would refuse) goes to
/// burn's own `ConvTranspose2d`.
pub fn conv_transpose2d(layer: &ConvTranspose2d, x: Tensor<4>, act: Activation) -> Tensor<4> {
    let fallback = |x: Tensor<4>| act.burn(layer.forward(x));
    let Some(bias) = &layer.bias else {
        return fallback(x);
    };
    let [batch, ci, h, w] = x.dims();
    let weight = layer.weight.val();
    let [wci, co, kh, kw] = weight.dims();
    let [sh, sw] = layer.stride;
    let [ph, pw] = layer.padding;
    let [oph, opw] = layer.padding_out;
    // burn's output side: (in − 1)·stride − 2·padding + kernel + output padding.
    let out_side = |side: usize, s: usize, p: usize, k: usize, op: usize| {
        side.checked_sub(1)
            .map(|d| d * s + k + op)
            .and_then(|v| v.checked_sub(2 * p))
    };
    let (Some(oh), Some(ow)) = (out_side(h, sh, ph, kh, oph), out_side(w, sw, pw, kw, opw)) else {
        return fallback(x);
    };
    // The adjoint convolution: from the output (`oh × ow`, `co` channels) to the input grid.
    let geom = Geom {
        c: co,
        ih: oh,
        iw: ow,
        kh,
        kw,
        sh,
        sw,
        ph,
        pw,
        oh: h,
        ow: w,
    };
    let supported = layer.groups == 1
        && layer.dilation == [1, 1]
        && wci == ci
        && [kh, kw] == layer.kernel_size
        && oph < sh
        && opw < sw
        && bias.dims() == [co]
        && geom.valid()
        && batch * ci > 0;
    if !supported {
        return fallback(x);
    }
    let spec = Spec {
        transposed: true,
        batch,
        geom,
        other: ci,
        act,
    };
    run(spec, x, weight, bias.val()).unwrap_or_else(fallback)
}

/// The geometry of a convolution from an image (`c × ih × iw`) to a grid of `oh × ow`
/// output positions: kernel `kh × kw`, stride `sh × sw`, `ph` rows of padding above and `pw`
/// columns on the left (and whatever the grid's size implies below and on the right).
#[derive(Clone, Copy, Debug)]
struct Geom {
    c: usize,
    ih: usize,
    iw: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    /// Whether every size is positive (the kernels below rely on it).
    fn valid(&self) -> bool {
        [
            self.c, self.ih, self.iw, self.kh, self.kw, self.sh, self.sw, self.oh, self.ow,
        ]
        .iter()
        .all(|&v| v > 0)
    }

    /// Rows of the column matrix: channels × kernel offsets.
    fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of the column matrix: output positions.
    fn cols(&self) -> usize {
        self.oh * self.ow
    }

    /// Values of one image.
    fn image(&self) -> usize {
        self.c * self.ih * self.iw
    }
}

/// The output positions `lo..hi` (of `out`) whose input coordinate `o·s + k − p` lies in
/// `0..side`.
fn in_range(out: usize, k: usize, s: usize, p: usize, side: usize) -> (usize, usize) {
    let lo = p.saturating_sub(k).div_ceil(s);
    let hi = (side + p).saturating_sub(k).div_ceil(s).min(out);
    (lo.min(hi), hi)
}

/// Unfold the image `x` into `col` (`rows × cols` of `g`): `col[(c, i, j), (y, x)]` is the
/// image's value at `(c, y·sh + i − ph, x·sw + j − pw)`, zero in the padding.
fn im2col(x: &[f32], g: &Geom, col: &mut [f32]) {
    let n = g.cols();
    let plane = g.ih * g.iw;
    for (c, src) in x.chunks_exact(plane).take(g.c).enumerate() {
        for i in 0..g.kh {
            let (ylo, yhi) = in_range(g.oh, i, g.sh, g.ph, g.ih);
            for j in 0..g.kw {
                let (xlo, xhi) = in_range(g.ow, j, g.sw, g.pw, g.iw);
                let row = &mut col[((c * g.kh + i) * g.kw + j) * n..][..n];
                for (y, out) in row.chunks_exact_mut(g.ow).enumerate() {
                    if y < ylo || y >= yhi {
                        out.fill(0.0);
                        continue;
                    }
                    let line = &src[(y * g.sh + i - g.ph) * g.iw..][..g.iw];
                    out[..xlo].fill(0.0);
                    out[xhi..].fill(0.0);
                    if g.sw == 1 {
                        let start = xlo + j - g.pw;
                        out[xlo..xhi].copy_from_slice(&line[start..start + (xhi - xlo)]);
                    } else {
                        for (o, xo) in out[xlo..xhi].iter_mut().zip(xlo..) {
                            *o = line[xo * g.sw + j - g.pw];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: add every column value back onto the image position it was
/// read from (`x` must start zeroed, or hold what the values add to).
fn col2im(col: &[f32], g: &Geom, x: &mut [f32]) {
    let n = g.cols();
    let plane = g.ih * g.iw;
    for (c, dst) in x.chunks_exact_mut(plane).take(g.c).enumerate() {
        for i in 0..g.kh {
            let (ylo, yhi) = in_range(g.oh, i, g.sh, g.ph, g.ih);
            for j in 0..g.kw {
                let (xlo, xhi) = in_range(g.ow, j, g.sw, g.pw, g.iw);
                let row = &col[((c * g.kh + i) * g.kw + j) * n..][..n];
                for y in ylo..yhi {
                    let src = &row[y * g.ow..][..g.ow];
                    let line = &mut dst[(y * g.sh + i - g.ph) * g.iw..][..g.iw];
                    for (xo, &v) in src.iter().enumerate().take(xhi).skip(xlo) {
                        line[xo * g.sw + j - g.pw] += v;
                    }
                }
            }
        }
    }
}

/// A matrix operand of [`matmul`]: its values, column stride and row stride.
#[derive(Clone, Copy)]
struct View<'a> {
    v: &'a [f32],
    cs: usize,
    rs: usize,
}

impl View<'_> {
    /// Whether a `rows × cols` matrix with these strides lies inside the values.
    fn covers(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.v.len()
    }
}

/// `dst = lhs·rhs` (or `dst += lhs·rhs` when `accumulate`) for `lhs` of `m × depth` and `rhs`
/// of `depth × n`, `dst` row-major `m × n`; one thread (the parts run side by side).
fn matmul(dst: &mut [f32], [m, n, depth]: [usize; 3], lhs: View, rhs: View, accumulate: bool) {
    assert!(
        dst.len() >= m * n && lhs.covers(m, depth) && rhs.covers(depth, n),
        "operand sizes"
    );
    if m == 0 || n == 0 {
        return;
    }
    if depth == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: every element the strides address lies inside the operands (asserted above:
    // `covers`) and `dst` holds `m × n` initialised values. With `accumulate` gemm reads
    // then writes them (`read_dst`); without, it writes each one.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.v.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.v.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// One operation: a convolution (`transposed: false`: image → grid) or a transposed one
/// (grid → image), its batch size, geometry and activation. `other` is the channels on the
/// grid side (a convolution's outputs, a transposed convolution's inputs); the weights are
/// `other × geom.rows()` in both cases.
#[derive(Clone, Copy, Debug)]
struct Spec {
    transposed: bool,
    batch: usize,
    geom: Geom,
    other: usize,
    act: Activation,
}

impl Spec {
    /// Values of one input image.
    fn input_len(&self) -> usize {
        if self.transposed {
            self.other * self.geom.cols()
        } else {
            self.geom.image()
        }
    }

    /// Values of one output image.
    fn output_len(&self) -> usize {
        if self.transposed {
            self.geom.image()
        } else {
            self.other * self.geom.cols()
        }
    }

    /// The output's shape.
    fn output_shape(&self) -> Shape {
        let g = &self.geom;
        if self.transposed {
            Shape::new([self.batch, g.c, g.ih, g.iw])
        } else {
            Shape::new([self.batch, self.other, g.oh, g.ow])
        }
    }

    /// The output's channels and the values in each channel's plane.
    fn output_planes(&self) -> (usize, usize) {
        if self.transposed {
            (self.geom.c, self.geom.ih * self.geom.iw)
        } else {
            (self.other, self.geom.cols())
        }
    }

    /// Images per part of the batch.
    fn part_len(&self) -> usize {
        self.batch.div_ceil(MAX_PARTS).max(1)
    }
}

/// `work(first image, output part)` over the parts of a batch, side by side on rayon's
/// threads; `out` (when given) cut into the parts' images of `per_image` values each. The
/// results come back in order.
fn over_parts<R: Send>(
    spec: &Spec,
    out: Option<&mut [f32]>,
    per_image: usize,
    work: impl Fn(usize, Option<&mut [f32]>) -> R + Sync,
) -> Vec<R> {
    let len = spec.part_len();
    let parts = spec.batch.div_ceil(len);
    let outs: Vec<Option<&mut [f32]>> = match out {
        Some(o) => o.chunks_mut(len * per_image).map(Some).collect(),
        None => (0..parts).map(|_| None).collect(),
    };
    outs.into_par_iter()
        .enumerate()
        .map(|(p, o)| work(p * len, o))
        .collect()
}

/// The forward pass: `act(b + W·im2col(x))` or `act(b + col2im(Wᵀ·x))` for every image.
fn forward(spec: &Spec, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let g = spec.geom;
    let (rows, cols, other) = (g.rows(), g.cols(), spec.other);
    let (inp, outp) = (spec.input_len(), spec.output_len());
    let (channels, plane) = spec.output_planes();
    let mut y = vec![0.0f32; spec.batch * outp];
    over_parts(spec, Some(&mut y), outp, |first, out| {
        let Some(out) = out else { return };
        let mut col = vec![0.0f32; rows * cols];
        for (i, yb) in out.chunks_exact_mut(outp).enumerate() {
            let xb = &x[(first + i) * inp..][..inp];
            for (p, &bias) in yb.chunks_exact_mut(plane).zip(b).take(channels) {
                p.fill(bias);
            }
            if spec.transposed {
                // Wᵀ (rows × other) reads `w` with its strides swapped.
                let wt = View {
                    v: w,
                    cs: rows,
                    rs: 1,
                };
                let xv = View {
                    v: xb,
                    cs: 1,
                    rs: cols,
                };
                matmul(&mut col, [rows, cols, other], wt, xv, false);
                col2im(&col, &g, yb);
            } else {
                im2col(xb, &g, &mut col);
                let wv = View {
                    v: w,
                    cs: 1,
                    rs: rows,
                };
                let cv = View {
                    v: &col,
                    cs: 1,
                    rs: cols,
                };
                matmul(yb, [other, cols, rows], wv, cv, true);
            }
            if spec.act == Activation::Relu {
                for v in yb.iter_mut() {
                    // Keeps NaN, as burn's ReLU does.
                    if *v <= 0.0 {
                        *v = 0.0;
                    }
                }
            }
        }
    });
    y
}

/// The gradients the backward step computes: each only when asked for.
struct Grads {
    x: Option<Vec<f32>>,
    w: Option<Vec<f32>>,
    b: Option<Vec<f32>>,
}

/// The backward pass for the output gradient `gy` (already masked by the activation):
/// the gradients of the input, weights and bias that `need` asks for (in that order).
fn backward(spec: &Spec, x: &[f32], w: &[f32], gy: &[f32], need: [bool; 3]) -> Grads {
    let g = spec.geom;
    let (rows, cols, other) = (g.rows(), g.cols(), spec.other);
    let (inp, outp) = (spec.input_len(), spec.output_len());
    let db = need[2].then(|| {
        let (channels, plane) = spec.output_planes();
        // Summed in f64: a channel of a batch of images is thousands of values.
        let mut db = vec![0.0f64; channels];
        for image in gy.chunks_exact(outp) {
            for (d, p) in db.iter_mut().zip(image.chunks_exact(plane)) {
                *d += p.iter().map(|&v| f64::from(v)).sum::<f64>();
            }
        }
        db.into_iter().map(|v| v as f32).collect()
    });
    let mut dx = need[0].then(|| vec![0.0f32; spec.batch * inp]);
    let partials = over_parts(spec, dx.as_deref_mut(), inp, |first, mut dx_part| {
        let mut col = vec![0.0f32; rows * cols];
        let mut dw = need[1].then(|| vec![0.0f32; other * rows]);
        let count = spec.part_len().min(spec.batch - first);
        for i in 0..count {
            let (xb, gb) = (
                &x[(first + i) * inp..][..inp],
                &gy[(first + i) * outp..][..outp],
            );
            let dxb = dx_part.as_deref_mut().map(|d| &mut d[i * inp..][..inp]);
            if spec.transposed {
                // col = im2col(∂y); ∂W += x·colᵀ; ∂x = W·col.
                im2col(gb, &g, &mut col);
                if let Some(dw) = dw.as_deref_mut() {
                    let xv = View {
                        v: xb,
                        cs: 1,
                        rs: cols,
                    };
                    let ct = View {
                        v: &col,
                        cs: cols,
                        rs: 1,
                    };
                    matmul(dw, [other, rows, cols], xv, ct, true);
                }
                if let Some(dxb) = dxb {
                    let wv = View {
                        v: w,
                        cs: 1,
                        rs: rows,
                    };
                    let cv = View {
                        v: &col,
                        cs: 1,
                        rs: cols,
                    };
                    matmul(dxb, [other, cols, rows], wv, cv, false);
                }
            } else {
                // ∂W += ∂y·im2col(x)ᵀ; ∂x = col2im(Wᵀ·∂y).
                let gv = View {
                    v: gb,
                    cs: 1,
                    rs: cols,
                };
                if let Some(dw) = dw.as_deref_mut() {
                    im2col(xb, &g, &mut col);
                    let ct = View {
                        v: &col,
                        cs: cols,
                        rs: 1,
                    };
                    matmul(dw, [other, rows, cols], gv, ct, true);
                }
                if let Some(dxb) = dxb {
                    let wt = View {
                        v: w,
                        cs: rows,
                        rs: 1,
                    };
                    matmul(&mut col, [rows, cols, other], wt, gv, false);
                    col2im(&col, &g, dxb);
                }
            }
        }
        dw
    });
    // The parts' weight gradients, summed in order.
    let dw = need[1].then(|| {
        let mut parts = partials.into_iter().flatten();
        let mut sum = parts.next().unwrap_or_else(|| vec![0.0f32; other * rows]);
        for p in parts {
            for (s, v) in sum.iter_mut().zip(&p) {
                *s += v;
            }
        }
        sum
    });
    Grads {
        x: dx,
        w: dw,
        b: db,
    }
}

/// The forward pass on flex tensors, with an autodiff node when the inputs are tracked;
/// `Err(x)` (the input back) when the tensors are not all flex tensors of one kind.
fn run(spec: Spec, x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Result<Tensor<4>, Tensor<4>> {
    let same_kind = x.is_autodiff() == w.is_autodiff() && w.is_autodiff() == b.is_autodiff();
    if x.device() != burn::tensor::Device::flex() || !same_kind {
        return Err(x);
    }
    if !x.is_autodiff() {
        let (xs, ws, bs) = (flex_f32(x), flex_f32(w), flex_f32(b));
        let y = forward(&spec, values(&xs), values(&ws), values(&bs));
        return Ok(Tensor::from_primitive::<Flex>(from_vec(
            y,
            spec.output_shape(),
        )));
    }
    let parts = (
        x.clone().try_into_primitive::<Autodiff<Flex>>(),
        w.try_into_primitive::<Autodiff<Flex>>(),
        b.try_into_primitive::<Autodiff<Flex>>(),
    );
    let (Ok(xa), Ok(wa), Ok(ba)) = parts else {
        return Err(x);
    };
    let ((xp, xg), (wp, wg), (bp, bg)) = (xa.into_parts(), wa.into_parts(), ba.into_parts());
    let (xs, ws, bs) = (contiguous(xp), contiguous(wp), contiguous(bp));
    let y = from_vec(
        forward(&spec, values(&xs), values(&ws), values(&bs)),
        spec.output_shape(),
    );
    let prep = ConvOp
        .prepare::<NoCheckpointing>([xg, wg, bg])
        .compute_bound();
    let out = match prep.stateful() {
        OpsKind::Tracked(prep) => {
            let state = ConvState {
                spec,
                x: xs,
                w: ws,
                // The ReLU's backward step needs the output (a shared handle, not a copy).
                y: (spec.act == Activation::Relu).then(|| y.clone()),
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Ok(Tensor::from_primitive::<Autodiff<Flex>>(out))
}

/// What the backward step needs.
#[derive(Clone, Debug)]
struct ConvState {
    spec: Spec,
    /// The input.
    x: FlexTensor,
    /// The weights.
    w: FlexTensor,
    /// The output, when a ReLU followed (its zeros mask the gradient).
    y: Option<FlexTensor>,
}

/// The backward step of [`conv2d`] and [`conv_transpose2d`] (see [`backward`]), each
/// gradient only when its input is tracked.
#[derive(Debug)]
struct ConvOp;

impl Backward<Flex, 3> for ConvOp {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pw, pb] = ops.parents;
        let ConvState { spec, x, w, y } = ops.state;
        let g = contiguous(grads.consume::<Flex>(&ops.node));
        let masked: Vec<f32>;
        let gy = match &y {
            Some(y) => {
                masked = values(&g)
                    .iter()
                    .zip(values(y))
                    .map(|(&d, &o)| if o <= 0.0 { 0.0 } else { d })
                    .collect();
                &masked[..]
            }
            None => values(&g),
        };
        let need = [px.is_some(), pw.is_some(), pb.is_some()];
        let out = backward(&spec, values(&x), values(&w), gy, need);
        if let (Some(node), Some(db)) = (pb, out.b) {
            let n = db.len();
            grads.register::<Flex>(node.id, from_vec(db, Shape::new([n])));
        }
        if let (Some(node), Some(dw)) = (pw, out.w) {
            grads.register::<Flex>(node.id, from_vec(dw, w.layout().shape().clone()));
        }
        if let (Some(node), Some(dx)) = (px, out.x) {
            grads.register::<Flex>(node.id, from_vec(dx, x.layout().shape().clone()));
        }
    }
}
