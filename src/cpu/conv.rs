//! Convolutions and transposed convolutions (2-D, one group, no dilation), each with its
//! bias and an optional ReLU, as one operation on the CPU backend with its own backward
//! step, used by the convolutional encoder and decoder.
//!
//! burn-flex's convolution converts its input to channels-last, builds tiled columns and
//! calls `gemm` per tile; its backward steps are further convolutions, and the ReLU and
//! its mask are passes of their own. Here each image is unfolded into columns (im2col: one
//! row per output position, holding the image's values under the kernel, channels last, so
//! that each kernel row is one contiguous copy) and one `gemm` (the crate burn-flex calls)
//! multiplies the weights into the columns of several images at once; the bias and the
//! ReLU are applied as the product is copied out. A transposed convolution is the adjoint
//! of a convolution: the columns are the product of the transposed weights and the input,
//! folded back onto the image (col2im). The backward steps are the same products the other
//! way round, written directly: for a convolution, `∂W = Σ ∂y·columns(x)` and
//! `∂x = col2im(∂yᵀ·W)`; for a transposed one, `∂W = Σ x·columns(∂y)` and
//! `∂x = W·columns(∂y)ᵀ`; `∂b` is each channel's sum of `∂y` (after the ReLU's mask).
//! Operands are laid out so that gemm reads most of them in place instead of packing them.
//!
//! The images of a batch are cut into at most [`MAX_PARTS`] parts (their number depends
//! on the batch size only) that rayon shares among its threads: inside a training lane
//! that is one thread, outside it every core. The weight gradient is summed part by part in
//! order, so the result does not depend on how many threads ran it.
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

use super::flex::{contiguous, flex_f32, from_vec, sum_f64, values};
use super::simd::multiversion;
use super::transpose::transpose;

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
    run(spec, x, weight, bias.val()).unwrap_or_else(|x| fallback(*x))
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
    run(spec, x, weight, bias.val()).unwrap_or_else(|x| fallback(*x))
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

/// The kernel offsets `lo..hi` along one axis (of `k`) that read inside `0..side` from
/// output position `o` (input coordinate `o·s + offset − p`).
#[inline(always)]
fn offsets(o: usize, k: usize, s: usize, p: usize, side: usize) -> (usize, usize) {
    let at = o * s;
    let hi = (side + p).saturating_sub(at).min(k);
    (p.saturating_sub(at).min(hi), hi)
}

/// Unfold the channels-last image `x` (`ih·iw` positions of `c` channels) into `col`
/// (`cols` rows of `rows` values): row `(y, x)` holds, for each kernel offset `(i, j)` in
/// turn, the `c` channels at `(y·sh + i − ph, x·sw + j − pw)`, zero in the padding. The
/// offsets of one kernel row read one contiguous run of the image.
#[inline(always)]
fn im2col(x: &[f32], g: &Geom, col: &mut [f32]) {
    let c = g.c;
    for (n, row) in col.chunks_exact_mut(g.rows()).take(g.cols()).enumerate() {
        let (y, xo) = (n / g.ow, n % g.ow);
        let (ilo, ihi) = offsets(y, g.kh, g.sh, g.ph, g.ih);
        let (jlo, jhi) = offsets(xo, g.kw, g.sw, g.pw, g.iw);
        for (i, seg) in row.chunks_exact_mut(g.kw * c).enumerate() {
            if i < ilo || i >= ihi || jlo == jhi {
                seg.fill(0.0);
                continue;
            }
            let at = ((y * g.sh + i - g.ph) * g.iw + xo * g.sw + jlo - g.pw) * c;
            seg[..jlo * c].fill(0.0);
            seg[jlo * c..jhi * c].copy_from_slice(&x[at..at + (jhi - jlo) * c]);
            seg[jhi * c..].fill(0.0);
        }
    }
}

/// The adjoint of [`im2col`]: add every column value back onto the (channels-last) image
/// position it was read from (`x` must start zeroed, or hold what the values add to).
#[inline(always)]
fn col2im(col: &[f32], g: &Geom, x: &mut [f32]) {
    let c = g.c;
    for (n, row) in col.chunks_exact(g.rows()).take(g.cols()).enumerate() {
        let (y, xo) = (n / g.ow, n % g.ow);
        let (ilo, ihi) = offsets(y, g.kh, g.sh, g.ph, g.ih);
        let (jlo, jhi) = offsets(xo, g.kw, g.sw, g.pw, g.iw);
        if jlo == jhi {
            continue;
        }
        for (i, seg) in row.chunks_exact(g.kw * c).enumerate().take(ihi).skip(ilo) {
            let at = ((y * g.sh + i - g.ph) * g.iw + xo * g.sw + jlo - g.pw) * c;
            let dst = &mut x[at..at + (jhi - jlo) * c];
            for (d, &v) in dst.iter_mut().zip(&seg[jlo * c..jhi * c]) {
                *d += v;
            }
        }
    }
}

/// An image (`c` planes) as [`im2col`] reads it: itself for one channel, else its channels
/// last, in `scratch`.
#[inline(always)]
fn channels_last<'a>(x: &'a [f32], g: &Geom, scratch: &'a mut [f32]) -> &'a [f32] {
    if g.c == 1 {
        return x;
    }
    transpose(x, g.c, g.ih * g.iw, scratch);
    scratch
}

/// The weights (`other × c × kh × kw`) with each row in the columns' order, channels last
/// (`other × kh × kw × c`).
fn weights_channels_last(w: &[f32], g: &Geom, other: usize) -> Vec<f32> {
    let (rows, offsets) = (g.rows(), g.kh * g.kw);
    let mut out = vec![0.0f32; other * rows];
    for (o, wo) in out.chunks_exact_mut(rows).zip(w.chunks_exact(rows)) {
        transpose(wo, g.c, offsets, o);
    }
    out
}

/// The inverse of [`weights_channels_last`].
fn weights_channels_first(w: &[f32], g: &Geom, other: usize) -> Vec<f32> {
    let (rows, offsets) = (g.rows(), g.kh * g.kw);
    let mut out = vec![0.0f32; other * rows];
    for (o, wo) in out.chunks_exact_mut(rows).zip(w.chunks_exact(rows)) {
        transpose(wo, offsets, g.c, o);
    }
    out
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
/// of `depth × n`, `dst` a dense `m × n` matrix, row-major or (`col_major`) column-major;
/// one thread (the parts run side by side).
///
/// gemm reads a column-major `lhs` whose rows are a multiple of 16 and a column-major `rhs`
/// (for up to 128 rows of `lhs`) in place, and stores whole vectors into a column-major
/// `dst`; anything else it packs first.
fn matmul(
    dst: &mut [f32],
    col_major: bool,
    [m, n, depth]: [usize; 3],
    lhs: View,
    rhs: View,
    accumulate: bool,
) {
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
    let (dst_cs, dst_rs) = if col_major { (m, 1) } else { (1, n) };
    // SAFETY: every element the strides address lies inside the operands (asserted above:
    // `covers`) and `dst` holds `m × n` initialised values, which its strides (dense, either
    // order) address. With `accumulate` gemm reads then writes them (`read_dst`); without,
    // it writes each one.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
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
/// threads (one after another where [`super::lanes::may_share`] says no); `out` (when
/// given) cut into the parts' images of `per_image` values each. The results come back in
/// order.
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
    if !super::lanes::may_share() {
        // Inline, or a pool of one thread: one part after another on this thread.
        return outs
            .into_iter()
            .enumerate()
            .map(|(p, o)| work(p * len, o))
            .collect();
    }
    outs.into_par_iter()
        .enumerate()
        .map(|(p, o)| work(p * len, o))
        .collect()
}

/// Images `first..first + count` of `src` (images of `other × cols`) gathered channel by
/// channel into `out` (`other × count·cols`): channel `o` of image `p` at
/// `o·count·cols + p·cols`. The layout gemm reads in place as the transposed operand.
#[inline(always)]
fn gather(src: &[f32], [first, count]: [usize; 2], other: usize, cols: usize, out: &mut [f32]) {
    let pn = count * cols;
    for p in 0..count {
        let image = &src[(first + p) * other * cols..][..other * cols];
        for (o, run) in image.chunks_exact(cols).enumerate() {
            out[o * pn + p * cols..][..cols].copy_from_slice(run);
        }
    }
}

thread_local! {
    /// Scratch space of the parts that run on this thread, kept from call to call: fresh
    /// buffers of this size were page faults and zeroing in every step.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// This thread's [`SCRATCH`] buffer, taken out while in use (a nested call would start from
/// an empty one) and grown to at least `len` values; give it back with [`put_scratch`]. Its
/// contents are left over from earlier calls: every user writes a slice before reading it.
fn take_scratch(len: usize) -> Vec<f32> {
    let mut buf = SCRATCH.with(|cell| cell.take());
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    buf
}

/// Give back the buffer [`take_scratch`] lent.
fn put_scratch(buf: Vec<f32>) {
    SCRATCH.with(|cell| cell.replace(buf));
}

/// `buf` cut into `N` slices of the given lengths, one after another.
#[inline(always)]
fn split<const N: usize>(buf: &mut [f32], lens: [usize; N]) -> [&mut [f32]; N] {
    let mut rest = buf;
    let mut out: [&mut [f32]; N] = std::array::from_fn(|_| <&mut [f32]>::default());
    for (slot, &len) in out.iter_mut().zip(&lens) {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
        *slot = head;
        rest = tail;
    }
    out
}

/// The products of one part of `count` images (`pn = count · cols` columns in all), each
/// one gemm for the whole part, with `colt` the part's columns (`pn × rows`, an image's
/// after another), `wp` the weights (`other × rows`) and `wt` the same weights transposed
/// (`rows × other`).
struct Part<'a> {
    pn: usize,
    rows: usize,
    other: usize,
    wp: &'a [f32],
    wt: &'a [f32],
}

impl Part<'_> {
    /// `t = columns · Wpᵀ` (`pn × other`, row-major: channel `o` of position `r` at
    /// `r·other + o`): the weights times each image's columns. Computed as its transpose
    /// `Wp · columnsᵀ` into a column-major destination (gemm stores whole vectors there; a
    /// row-major one it copies out element by element), with the weights read column-major
    /// from `wt` and the columns in place.
    fn weights_times_columns(&self, colt: &[f32], t: &mut [f32]) {
        let (pn, rows, other) = (self.pn, self.rows, self.other);
        let wv = View {
            v: self.wt,
            cs: other,
            rs: 1,
        };
        let ct = View {
            v: colt,
            cs: rows,
            rs: 1,
        };
        matmul(t, true, [other, pn, rows], wv, ct, false);
    }

    /// `colt = s2ᵀ · Wp` (`pn × rows`) for `s2` gathered by [`gather`] (`other × pn`): each
    /// image's columns from the weights. Computed as its transpose `Wpᵀ · s2`, whose
    /// left operand gemm reads in place.
    fn columns_from_weights(&self, s2: &[f32], colt: &mut [f32]) {
        let (pn, rows, other) = (self.pn, self.rows, self.other);
        let wt = View {
            v: self.wp,
            cs: rows,
            rs: 1,
        };
        let sv = View {
            v: s2,
            cs: 1,
            rs: pn,
        };
        matmul(colt, true, [rows, pn, other], wt, sv, false);
    }

    /// `dwp += s2 · colt` (`other × rows`); gemm packs only `s2`.
    fn add_weight_gradient(&self, colt: &[f32], s2: &[f32], dwp: &mut [f32]) {
        let (pn, rows, other) = (self.pn, self.rows, self.other);
        let sv = View {
            v: s2,
            cs: 1,
            rs: pn,
        };
        let cv = View {
            v: colt,
            cs: 1,
            rs: rows,
        };
        matmul(dwp, false, [other, rows, pn], sv, cv, true);
    }
}

/// Copy `t` (row-major `pn × other`, from [`Part::weights_times_columns`]) into `out`
/// (`count` images of `other × cols`, channels first), adding `bias` (when given) and
/// applying `act`.
#[inline(always)]
fn scatter(
    t: &[f32],
    pn: usize,
    cols: usize,
    bias: Option<&[f32]>,
    act: Activation,
    out: &mut [f32],
) {
    let other = t.len() / pn.max(1);
    for (image, src) in out
        .chunks_exact_mut(other * cols)
        .zip(t.chunks_exact(other * cols))
    {
        transpose(src, cols, other, image);
        if bias.is_some() || act != Activation::Identity {
            for (o, run) in image.chunks_exact_mut(cols).enumerate() {
                let b = bias.map_or(0.0, |b| b[o]);
                bias_act(run, b, act);
            }
        }
    }
}

/// `v + b`, then `act`, in place.
#[inline(always)]
fn bias_act(run: &mut [f32], b: f32, act: Activation) {
    match act {
        Activation::Identity => run.iter_mut().for_each(|v| *v += b),
        Activation::Relu => run.iter_mut().for_each(|v| {
            let s = *v + b;
            // Keeps NaN, as burn's ReLU does.
            *v = if s <= 0.0 { 0.0 } else { s };
        }),
    }
}

/// The forward pass with the weights `wp` in the columns' order
/// ([`weights_channels_last`]): `act(b + W·im2col(x))` or `act(b + col2im(Wᵀ·x))` for every
/// image, part by part ([`forward_part`]).
fn forward(spec: &Spec, x: &[f32], wp: &[f32], b: &[f32]) -> Vec<f32> {
    let (rows, other) = (spec.geom.rows(), spec.other);
    let outp = spec.output_len();
    let mut wt = vec![0.0f32; other * rows];
    transpose(wp, other, rows, &mut wt);
    let mut y = vec![0.0f32; spec.batch * outp];
    let k = Kernel { spec, wp, wt: &wt };
    over_parts(spec, Some(&mut y), outp, |first, out| {
        if let Some(out) = out {
            forward_part(&k, x, b, first, out);
        }
    });
    y
}

/// What every part of a batch shares: the layer, its weights in the columns' order (`wp`,
/// `other × rows`) and the same transposed (`wt`).
struct Kernel<'a> {
    spec: &'a Spec,
    wp: &'a [f32],
    wt: &'a [f32],
}

impl Kernel<'_> {
    /// The products of a part of `count` images.
    fn part(&self, count: usize) -> Part<'_> {
        Part {
            pn: count * self.spec.geom.cols(),
            rows: self.spec.geom.rows(),
            other: self.spec.other,
            wp: self.wp,
            wt: self.wt,
        }
    }

    /// The lengths of a part's scratch slices: its columns, a channels-last image, the
    /// gathered channels and the product.
    fn scratch_lens(&self, part: &Part) -> [usize; 4] {
        let g = &self.spec.geom;
        [
            part.pn * part.rows,
            if g.c > 1 { g.image() } else { 0 },
            part.other * part.pn,
            part.pn * part.other,
        ]
    }
}

multiversion! {
    /// One part of [`forward`]: the images from `first` on, into `out` (theirs). Its loops
    /// (im2col, col2im, the copies out) are compiled for each [`super::simd`] level;
    /// `gemm` picks its own kernels.
    fn forward_part / forward_part_avx512 / forward_part_avx2 =
        forward_part_body(k: &Kernel, x: &[f32], b: &[f32], first: usize, out: &mut [f32])
}

#[inline(always)]
fn forward_part_body(k: &Kernel, x: &[f32], b: &[f32], first: usize, out: &mut [f32]) {
    let (spec, g) = (k.spec, k.spec.geom);
    let (rows, cols, c) = (g.rows(), g.cols(), g.c);
    let plane = g.ih * g.iw;
    let (inp, outp) = (spec.input_len(), spec.output_len());
    let count = out.len() / outp;
    let part = k.part(count);
    let lens = k.scratch_lens(&part);
    let mut buf = take_scratch(lens.iter().sum());
    let [colt, img, s2, t] = split(&mut buf, lens);
    if spec.transposed {
        gather(x, [first, count], part.other, cols, s2);
        part.columns_from_weights(s2, colt);
        for (col, yb) in colt
            .chunks_exact(cols * rows)
            .zip(out.chunks_exact_mut(outp))
        {
            if c == 1 {
                // Summed onto the bias.
                yb.fill(b[0]);
                col2im(col, &g, yb);
                if spec.act == Activation::Relu {
                    bias_act(yb, 0.0, spec.act);
                }
            } else {
                img.fill(0.0);
                col2im(col, &g, img);
                // Back to channels first, then the bias.
                transpose(img, plane, c, yb);
                for (o, &bias) in yb.chunks_exact_mut(plane).zip(b) {
                    bias_act(o, bias, spec.act);
                }
            }
        }
    } else {
        for (i, col) in colt.chunks_exact_mut(cols * rows).enumerate() {
            let xb = &x[(first + i) * inp..][..inp];
            im2col(channels_last(xb, &g, img), &g, col);
        }
        part.weights_times_columns(colt, t);
        scatter(t, part.pn, cols, Some(b), spec.act, out);
    }
    put_scratch(buf);
}

/// The gradients the backward step computes: each only when asked for.
struct Grads {
    x: Option<Vec<f32>>,
    w: Option<Vec<f32>>,
    b: Option<Vec<f32>>,
}

/// The backward pass for the output gradient `gy` (already masked by the activation), with
/// the weights `wp` in the columns' order: the gradients of the input, weights (in burn's
/// order) and bias that `need` asks for (in that order), part by part ([`backward_part`]).
fn backward(spec: &Spec, x: &[f32], wp: &[f32], gy: &[f32], need: [bool; 3]) -> Grads {
    let g = spec.geom;
    let (rows, other) = (g.rows(), spec.other);
    let (inp, outp) = (spec.input_len(), spec.output_len());
    let db = need[2].then(|| {
        let (channels, plane) = spec.output_planes();
        // Summed in f64: a channel of a batch of images is thousands of values.
        let mut db = vec![0.0f64; channels];
        for image in gy.chunks_exact(outp) {
            for (d, p) in db.iter_mut().zip(image.chunks_exact(plane)) {
                *d += sum_f64(p);
            }
        }
        db.into_iter().map(|v| v as f32).collect()
    });
    let mut wt = vec![0.0f32; other * rows];
    transpose(wp, other, rows, &mut wt);
    let k = Kernel { spec, wp, wt: &wt };
    let mut dx = need[0].then(|| vec![0.0f32; spec.batch * inp]);
    let partials = over_parts(spec, dx.as_deref_mut(), inp, |first, dx_part| {
        let mut dw = need[1].then(|| vec![0.0f32; other * rows]);
        backward_part(&k, x, gy, first, dx_part, dw.as_deref_mut());
        dw
    });
    // The parts' weight gradients, summed in order, back in burn's order.
    let dw = need[1].then(|| {
        let mut parts = partials.into_iter().flatten();
        let mut sum = parts.next().unwrap_or_else(|| vec![0.0f32; other * rows]);
        for p in parts {
            for (s, v) in sum.iter_mut().zip(&p) {
                *s += v;
            }
        }
        weights_channels_first(&sum, &g, other)
    });
    Grads {
        x: dx,
        w: dw,
        b: db,
    }
}

multiversion! {
    /// One part of [`backward`]: the images from `first` on, their input gradient into
    /// `dx_part` and their weight gradient added to `dw` (each when given). Compiled for
    /// each [`super::simd`] level, as [`forward_part`] is.
    fn backward_part / backward_part_avx512 / backward_part_avx2 =
        backward_part_body(
            k: &Kernel,
            x: &[f32],
            gy: &[f32],
            first: usize,
            dx_part: Option<&mut [f32]>,
            dw: Option<&mut [f32]>,
        )
}

#[inline(always)]
fn backward_part_body(
    k: &Kernel,
    x: &[f32],
    gy: &[f32],
    first: usize,
    dx_part: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
) {
    let (spec, g) = (k.spec, k.spec.geom);
    let (rows, cols, other, c) = (g.rows(), g.cols(), spec.other, g.c);
    let plane = g.ih * g.iw;
    let (inp, outp) = (spec.input_len(), spec.output_len());
    let count = spec.part_len().min(spec.batch - first);
    let part = k.part(count);
    let lens = k.scratch_lens(&part);
    let mut buf = take_scratch(lens.iter().sum());
    let [colt, img, s2, t] = split(&mut buf, lens);
    if spec.transposed {
        // The columns of ∂y; ∂W += x·columns; ∂x = W·columns.
        for (i, col) in colt.chunks_exact_mut(cols * rows).enumerate() {
            let gb = &gy[(first + i) * outp..][..outp];
            im2col(channels_last(gb, &g, img), &g, col);
        }
        if let Some(dw) = dw {
            gather(x, [first, count], other, cols, s2);
            part.add_weight_gradient(colt, s2, dw);
        }
        if let Some(dxp) = dx_part {
            part.weights_times_columns(colt, t);
            scatter(t, part.pn, cols, None, Activation::Identity, dxp);
        }
    } else {
        // ∂W += ∂y·columns of x; ∂x = col2im(∂yᵀ·W).
        gather(gy, [first, count], other, cols, s2);
        if let Some(dw) = dw {
            for (i, col) in colt.chunks_exact_mut(cols * rows).enumerate() {
                let xb = &x[(first + i) * inp..][..inp];
                im2col(channels_last(xb, &g, img), &g, col);
            }
            part.add_weight_gradient(colt, s2, dw);
        }
        if let Some(dxp) = dx_part {
            part.columns_from_weights(s2, colt);
            for (col, dxb) in colt
                .chunks_exact(cols * rows)
                .zip(dxp.chunks_exact_mut(inp))
            {
                if c == 1 {
                    col2im(col, &g, dxb);
                } else {
                    img.fill(0.0);
                    col2im(col, &g, img);
                    transpose(img, plane, c, dxb);
                }
            }
        }
    }
    put_scratch(buf);
}

/// The forward pass on flex tensors, with an autodiff node when the inputs are tracked;
/// `Err(x)` (the input back, boxed) when the tensors are not all flex tensors of one kind.
fn run(spec: Spec, x: Tensor<4>, w: Tensor<4>, b: Tensor<1>) -> Result<Tensor<4>, Box<Tensor<4>>> {
    let same_kind = x.is_autodiff() == w.is_autodiff() && w.is_autodiff() == b.is_autodiff();
    if x.device() != burn::tensor::Device::flex() || !same_kind {
        return Err(Box::new(x));
    }
    if !x.is_autodiff() {
        let (xs, ws, bs) = (flex_f32(x), flex_f32(w), flex_f32(b));
        let wp = weights_channels_last(values(&ws), &spec.geom, spec.other);
        let y = forward(&spec, values(&xs), &wp, values(&bs));
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
        return Err(Box::new(x));
    };
    let ((xp, xg), (wp, wg), (bp, bg)) = (xa.into_parts(), wa.into_parts(), ba.into_parts());
    let (xs, ws, bs) = (contiguous(xp), contiguous(wp), contiguous(bp));
    let wp = weights_channels_last(values(&ws), &spec.geom, spec.other);
    let y = from_vec(
        forward(&spec, values(&xs), &wp, values(&bs)),
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
                wp,
                w_shape: ws.layout().shape().clone(),
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
    /// The weights in the columns' order ([`weights_channels_last`]).
    wp: Vec<f32>,
    /// The weights' shape.
    w_shape: Shape,
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
        let ConvState {
            spec,
            x,
            wp,
            w_shape,
            y,
        } = ops.state;
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
        let out = backward(&spec, values(&x), &wp, gy, need);
        if let (Some(node), Some(db)) = (pb, out.b) {
            let n = db.len();
            grads.register::<Flex>(node.id, from_vec(db, Shape::new([n])));
        }
        if let (Some(node), Some(dw)) = (pw, out.w) {
            grads.register::<Flex>(node.id, from_vec(dw, w_shape));
        }
        if let (Some(node), Some(dx)) = (px, out.x) {
            grads.register::<Flex>(node.id, from_vec(dx, x.layout().shape().clone()));
        }
    }
}
