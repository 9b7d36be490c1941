//! The CPU backend's counterpart of [`crate::gpu`]: the only place outside it that reaches
//! below burn's tensor API, here to burn-flex's buffers. Work that burn does as a chain of
//! whole-tensor operations (Adam is eleven per parameter; summing the gradients of a split
//! batch and their norm, three more) is done in one pass over flat `f32` buffers, on the
//! training lanes of [`crate::train::parallel`]. The linear layer ([`linear`]) is one
//! operation with its own backward step, and skips the zeros of sparse inputs.
//!
//! The element-wise kernels are compiled twice, for baseline x86-64 and for AVX2 + FMA,
//! and pick at run time. Every kernel here is tested against burn's own operations
//! (`tests/engine/cpu.rs`).

use std::collections::HashMap;
use std::sync::Mutex;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Shape, Tensor, TensorData};

use crate::train::parallel::lanes;

mod linear;
pub use linear::{SPARSE_MAX_DENSITY, linear, linear_with_density};

/// Elements per unit of work handed to a lane.
const CHUNK: usize = 1 << 15;

/// A float tensor's values as a contiguous `f32` flex tensor (a copy only when it is not
/// one already: another backend, another dtype or a strided view).
fn flex_f32<const D: usize>(t: Tensor<D>) -> FlexTensor {
    let t = t.inner();
    match t.clone().try_into_primitive::<Flex>() {
        Ok(p) => contiguous(p),
        Err(_) => FlexTensor::from_data(t.into_data().convert::<f32>()),
    }
}

/// The `f32` values of a tensor made by [`flex_f32`].
fn values(t: &FlexTensor) -> &[f32] {
    // `flex_f32` only returns tensors for which this is `Some`.
    t.as_slice::<f32>().unwrap_or(&[])
}

/// A new flex tensor of `shape` holding `v`.
fn from_vec(v: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

/// Run `work(j, start, end)` over the index ranges `0..lens[j]` of every job `j`, cut into
/// chunks and dealt round-robin to the training lanes: one hand-off to the lanes for all
/// the jobs. `work` must only touch its own range.
fn over_chunks(lens: &[usize], work: impl Fn(usize, usize, usize) + Sync) {
    let chunks: Vec<(usize, usize, usize)> = lens
        .iter()
        .enumerate()
        .flat_map(|(j, &n)| {
            (0..n.div_ceil(CHUNK)).map(move |c| (j, c * CHUNK, ((c + 1) * CHUNK).min(n)))
        })
        .collect();
    let lanes = lanes();
    let parts = lanes.len().clamp(1, chunks.len().max(1));
    lanes.run(parts, |p| {
        for &(j, a, b) in chunks.iter().skip(p).step_by(parts) {
            work(j, a, b);
        }
    });
}

/// A mutable slice that lanes write in disjoint ranges.
struct Shared<'a> {
    ptr: *mut f32,
    len: usize,
    _life: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: `Shared` is only used through `range`, whose callers (in this module) give every
// lane a disjoint range, so no element is written by two threads or read while written.
unsafe impl Send for Shared<'_> {}
// SAFETY: as above.
unsafe impl Sync for Shared<'_> {}

impl<'a> Shared<'a> {
    fn new(s: &'a mut [f32]) -> Self {
        Self {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _life: std::marker::PhantomData,
        }
    }

    /// The elements `start..end`.
    ///
    /// # Safety
    /// No two live results may overlap.
    #[allow(clippy::mut_from_ref)]
    unsafe fn range(&self, start: usize, end: usize) -> &mut [f32] {
        assert!(
            start <= end && end <= self.len,
            "range {start}..{end} of {}",
            self.len
        );
        // SAFETY: in bounds (checked above); disjointness is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }
}

/// Collects each float parameter's id, gradient and (optionally) value.
struct Collect<'a> {
    grads: &'a mut GradientsParams,
    with_values: bool,
    found: Vec<(ParamId, FlexTensor, Option<FlexTensor>)>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let value = self.with_values.then(|| flex_f32(param.val()));
            self.found.push((param.id, flex_f32(g), value));
        }
    }
}

/// Sum the gradients of the parts of a split batch, parameter by parameter, and return
/// the sum with its squared L2 norm: one pass over the buffers, on the lanes.
pub fn sum_grads<M: Module>(module: &M, mut parts: Vec<GradientsParams>) -> (GradientsParams, f64) {
    // Each parameter's gradients from every part that has one, in visiting order.
    let mut groups: Vec<(ParamId, Vec<FlexTensor>)> = Vec::new();
    let mut index: HashMap<ParamId, usize> = HashMap::new();
    for gp in &mut parts {
        let mut c = Collect {
            grads: gp,
            with_values: false,
            found: Vec::new(),
        };
        module.visit(&mut c);
        for (id, g, _) in c.found {
            match index.get(&id) {
                Some(&k) => groups[k].1.push(g),
                None => {
                    index.insert(id, groups.len());
                    groups.push((id, vec![g]));
                }
            }
        }
    }
    // Each sum is made in place, in the first part's gradient: it is fresh from that part's
    // backward pass, so nothing else holds it (where something does, in a copy). That saves
    // a zeroed buffer and a copy of every gradient per step.
    let mut sums: Vec<FlexTensor> = groups
        .iter_mut()
        .map(|(_, gs)| {
            let mut first = gs.remove(0);
            if !first.is_unique() {
                let shape = first.layout().shape().clone();
                first = from_vec(values(&first).to_vec(), shape);
            }
            first
        })
        .collect();
    let lens: Vec<usize> = sums.iter().map(|t| values(t).len()).collect();
    let sq = Mutex::new(0.0f64);
    {
        let dst: Vec<Shared> = sums
            .iter_mut()
            .zip(&lens)
            .map(|(t, &n)| {
                // Unique by construction above, and `values` showed it holds n f32s.
                let all = t.try_storage_mut::<f32>().unwrap_or(&mut []);
                let n = n.min(all.len());
                Shared::new(&mut all[..n])
            })
            .collect();
        over_chunks(&lens, |j, a, b| {
            // SAFETY: `over_chunks` hands out disjoint ranges.
            let d = unsafe { dst[j].range(a, b) };
            for g in &groups[j].1 {
                for (x, y) in d.iter_mut().zip(&values(g)[a..b]) {
                    *x += *y;
                }
            }
            let s = sum_of_squares(d);
            *sq.lock().unwrap_or_else(|p| p.into_inner()) += s;
        });
    }
    let total = sq.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = GradientsParams::new();
    let mut regs = Register {
        tensors: groups
            .into_iter()
            .zip(sums)
            .map(|((id, _), sum)| (id, sum))
            .collect(),
        grads: &mut out,
    };
    module.visit(&mut regs);
    (out, total)
}

/// `Σ v²`, in eight independent `f32` lanes per block of 1,024 values (so that it
/// vectorises) and `f64` across blocks.
fn sum_of_squares(v: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for block in v.chunks(1024) {
        let mut acc = [0.0f32; 8];
        let mut eights = block.chunks_exact(8);
        for c in &mut eights {
            for k in 0..8 {
                acc[k] += c[k] * c[k];
            }
        }
        let rest: f32 = eights.remainder().iter().map(|x| x * x).sum();
        total += acc.iter().map(|&a| a as f64).sum::<f64>() + rest as f64;
    }
    total
}

/// Puts collected flex tensors back into a [`GradientsParams`] with the right rank.
struct Register<'a> {
    tensors: HashMap<ParamId, FlexTensor>,
    grads: &'a mut GradientsParams,
}

impl ModuleVisitor for Register<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(t) = self.tensors.remove(&param.id) {
            self.grads
                .register::<D>(param.id, Tensor::<D>::from_primitive::<Flex>(t));
        }
    }
}

/// Adam's two moments and step count for one parameter.
#[derive(Debug, Clone)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    time: i32,
}

/// Adam (Kingma & Ba) with burn's exact update rule and L2 weight decay, over flat buffers:
/// one pass per parameter instead of burn's eleven tensor operations, spread over the lanes.
///
/// Per element, with `g` the gradient plus `decay · θ`: `m ← β₁m + (1−β₁)g`,
/// `v ← β₂v + (1−β₂)g²`, then `θ ← θ − lr · m·c / (√v + ε·√(1−β₂ᵗ))` with
/// `c = √(1−β₂ᵗ) / (1−β₁ᵗ)` — burn's arrangement of the bias corrections, so both agree to
/// rounding.
#[derive(Debug, Clone)]
pub struct FlatAdam {
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    weight_decay: f32,
    states: HashMap<ParamId, Moments>,
}

impl FlatAdam {
    /// Adam with these settings and no state yet.
    pub fn new(beta1: f32, beta2: f32, epsilon: f32, weight_decay: f32) -> Self {
        Self {
            beta1,
            beta2,
            epsilon,
            weight_decay,
            states: HashMap::new(),
        }
    }

    /// One step at learning rate `lr`: every float parameter of `module` with a gradient
    /// in `grads` is updated (the others are left as they are).
    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        let mut c = Collect {
            grads: &mut grads,
            with_values: true,
            found: Vec::new(),
        };
        module.visit(&mut c);
        let (b1, b2, wd, lr) = (self.beta1, self.beta2, self.weight_decay, lr as f32);
        let mut jobs = Vec::new();
        for (id, g, value) in c.found {
            let Some(value) = value else { continue };
            let n = values(&value).len();
            let mut st = self.states.remove(&id).unwrap_or(Moments {
                m: Vec::new(),
                v: Vec::new(),
                time: 0,
            });
            if st.m.len() != n {
                // New, or a parameter whose size changed (a replaced module): start afresh.
                st = Moments {
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                    time: 0,
                };
            }
            st.time += 1;
            let bc2 = (1.0 - b2.powi(st.time)).sqrt();
            let scalars = AdamScalars {
                b1,
                b2,
                wd,
                combined: bc2 / (1.0 - b1.powi(st.time)),
                eps: self.epsilon * bc2,
                lr,
            };
            // The new weights are written over the gradient, which is ours alone (else it
            // is copied first): no buffer to allocate and zero per parameter and step.
            let mut g = g;
            if !g.is_unique() || values(&g).len() != n {
                g = from_vec(values(&g).to_vec(), value.layout().shape().clone());
            }
            jobs.push((id, g, value, st, scalars));
        }
        let lens: Vec<usize> = jobs.iter().map(|j| values(&j.2).len()).collect();
        {
            let views: Vec<_> = jobs
                .iter_mut()
                .zip(&lens)
                .map(|((_, g, value, st, s), &n)| {
                    // Unique (made so above), holding n f32s like the weights.
                    let g = g.try_storage_mut::<f32>().unwrap_or(&mut []);
                    let n = n.min(g.len()).min(st.m.len());
                    (
                        Shared::new(&mut g[..n]),
                        &values(value)[..n],
                        Shared::new(&mut st.m),
                        Shared::new(&mut st.v),
                        *s,
                    )
                })
                .collect();
            over_chunks(&lens, |j, a, b| {
                let (g, theta, m, v, s) = &views[j];
                // SAFETY: `over_chunks` hands out disjoint ranges.
                let (g, m, v) = unsafe { (g.range(a, b), m.range(a, b), v.range(a, b)) };
                adam_kernel(&theta[a..b], g, m, v, *s);
            });
        }
        let mut updated = HashMap::new();
        for (id, g, _, st, _) in jobs {
            updated.insert(id, g);
            self.states.insert(id, st);
        }
        module.map(&mut Replace { updated })
    }
}

/// The per-step constants of [`adam_kernel`].
#[derive(Clone, Copy)]
struct AdamScalars {
    b1: f32,
    b2: f32,
    wd: f32,
    combined: f32,
    eps: f32,
    lr: f32,
}

/// The Adam update of one range of elements.
#[inline(never)]
fn adam_kernel(theta: &[f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { adam_kernel_avx2(theta, g, m, v, s) };
    }
    adam_kernel_body(theta, g, m, v, s)
}

/// [`adam_kernel`] compiled for AVX2: eight lanes for the square root and the division that
/// bound it. The same arithmetic, so the same results (Rust never fuses `a·b + c` itself).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn adam_kernel_avx2(theta: &[f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    adam_kernel_body(theta, g, m, v, s)
}

#[inline(always)]
fn adam_kernel_body(theta: &[f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], s: AdamScalars) {
    let n = theta.len();
    let (g, m, v) = (&mut g[..n], &mut m[..n], &mut v[..n]);
    // Branch-free so that it vectorises: with no decay `θ·0 + g` is `g` exactly (θ is
    // finite: the trainer checks the weights).
    for i in 0..n {
        let gi = theta[i] * s.wd + g[i];
        let mi = m[i] * s.b1 + gi * (1.0 - s.b1);
        let vi = v[i] * s.b2 + gi * gi * (1.0 - s.b2);
        m[i] = mi;
        v[i] = vi;
        let step = (mi * s.combined) / (vi.sqrt() + s.eps);
        g[i] = theta[i] - step * s.lr;
    }
}

/// Swaps each updated parameter's value, keeping its id and training state.
struct Replace {
    updated: HashMap<ParamId, FlexTensor>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(new) = self.updated.remove(&param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let mut value = Tensor::<D>::from_primitive::<Flex>(new);
        if tensor.is_autodiff() {
            value = Tensor::from_inner(value);
        }
        if require_grad {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}

/// Fused binary cross-entropy with logits, summed over the last dimension (the Bernoulli
/// `−log p(x | z)` of each image), as one forward pass and a one-pass backward on the CPU
/// backend. burn's composition (`(1 − x)·l − log σ(l)`, then a sum) takes six passes
/// forward and five backward, with two `exp` and one `log1p` per pixel; here each pixel
/// costs one `exp` and one `log1p` forward, and the backward reuses `σ(l) − x` saved by
/// the forward pass.
///
/// Returns the inputs back when the fast path does not apply: not the CPU backend, a
/// target `x` that needs a gradient, or an autodiff set-up other than burn's default.
pub fn bce_with_logits_rows<const D: usize>(
    logits: Tensor<D>,
    x: Tensor<D>,
) -> Result<Tensor<D>, Box<(Tensor<D>, Tensor<D>)>> {
    let dims = logits.dims();
    if D == 0
        || logits.device() != burn::tensor::Device::flex()
        || x.dims() != dims
        || x.is_tracked()
    {
        return Err(Box::new((logits, x)));
    }
    let cols = dims[D - 1];
    let mut out_dims = dims;
    out_dims[D - 1] = 1;
    let out_shape = Shape::from(out_dims.to_vec());
    if !logits.is_autodiff() {
        let (l, xs) = (flex_f32(logits), flex_f32(x));
        let (sums, _) = bce_rows_forward(values(&l), values(&xs), cols, false);
        return Ok(Tensor::from_primitive::<Flex>(from_vec(sums, out_shape)));
    }
    let ad = match logits.clone().try_into_primitive::<Autodiff<Flex>>() {
        Ok(ad) => ad,
        Err(_) => return Err(Box::new((logits, x))),
    };
    let xs = flex_f32(x);
    let (primitive, guard) = ad.into_parts();
    let l = contiguous(primitive);
    let shape = l.layout().shape().clone();
    let prep = BceRows.prepare::<NoCheckpointing>([guard]).compute_bound();
    let out = match prep.stateful() {
        OpsKind::Tracked(prep) => {
            let (sums, diff) = bce_rows_forward(values(&l), values(&xs), cols, true);
            prep.finish(from_vec(diff, shape), from_vec(sums, out_shape))
        }
        OpsKind::UnTracked(prep) => {
            let (sums, _) = bce_rows_forward(values(&l), values(&xs), cols, false);
            prep.finish(from_vec(sums, out_shape))
        }
    };
    Ok(Tensor::from_primitive::<Autodiff<Flex>>(out))
}

/// Whether this CPU runs the AVX2 + FMA builds of the kernels (each kernel is compiled
/// twice, for the baseline x86-64 and for AVX2, and picks at run time).
fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A contiguous `f32` flex tensor (a copy only when it is not one: a strided view or
/// another dtype).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        FlexTensor::from_data(t.into_data().convert::<f32>())
    }
}

/// Per row of `cols` values: `Σ softplus(l) − x·l`, and, when `with_diff`, `σ(l) − x` per
/// element (the gradient of the row sum with respect to each logit). The element-wise part
/// is branch-free so that it vectorises ([`exp_nonpositive`], [`log1p_unit`]); row sums are
/// accumulated in `f64`.
fn bce_rows_forward(l: &[f32], x: &[f32], cols: usize, with_diff: bool) -> (Vec<f32>, Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { bce_rows_forward_avx2(l, x, cols, with_diff) };
    }
    bce_rows_forward_body(l, x, cols, with_diff)
}

/// [`bce_rows_forward`] compiled for AVX2: the same arithmetic eight lanes wide.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn bce_rows_forward_avx2(
    l: &[f32],
    x: &[f32],
    cols: usize,
    with_diff: bool,
) -> (Vec<f32>, Vec<f32>) {
    bce_rows_forward_body(l, x, cols, with_diff)
}

#[inline(always)]
fn bce_rows_forward_body(
    l: &[f32],
    x: &[f32],
    cols: usize,
    with_diff: bool,
) -> (Vec<f32>, Vec<f32>) {
    let cols = cols.max(1);
    let rows = l.len() / cols;
    let mut sums = Vec::with_capacity(rows);
    // Without a gradient the σ(l) − x values go to a scratch row that is overwritten.
    let mut diff = vec![0.0f32; if with_diff { l.len() } else { cols }];
    let mut loss = vec![0.0f32; cols];
    for r in 0..rows {
        let (lr, xr) = (&l[r * cols..(r + 1) * cols], &x[r * cols..(r + 1) * cols]);
        let d = if with_diff {
            &mut diff[r * cols..(r + 1) * cols]
        } else {
            &mut diff[..]
        };
        for (((out, d), &li), &xi) in loss.iter_mut().zip(d.iter_mut()).zip(lr).zip(xr) {
            // e = exp(−|l|) ∈ (0, 1]: softplus(l) = max(l, 0) + log1p(e) never overflows,
            // and σ(l) is 1/(1+e) for l ≥ 0 and e/(1+e) below.
            let e = exp_nonpositive(-li.abs());
            *out = li.max(0.0) + log1p_unit(e) - xi * li;
            let inv = 1.0 / (1.0 + e);
            let sig = if li >= 0.0 { inv } else { e * inv };
            *d = sig - xi;
        }
        sums.push(sum_f64(&loss) as f32);
    }
    if !with_diff {
        diff.clear();
    }
    (sums, diff)
}

/// The sum of `v` in `f64`, in eight interleaved partial sums (so that it vectorises; one
/// running sum would be a chain of dependent additions).
#[inline(always)]
fn sum_f64(v: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x as f64;
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&x| x as f64).sum();
    acc.iter().sum::<f64>() + tail
}

/// `exp(a)` for `a ≤ 0`, within 2 ulp of the correctly rounded value down to
/// `a = −87` (below, where `exp` leaves the normal floats, it returns `exp(−87)`).
/// Branch-free (Cody–Waite range reduction and Cephes' `expf` polynomial), so loops over
/// it vectorise; tested against the standard library over its whole range.
#[inline(always)]
pub fn exp_nonpositive(a: f32) -> f32 {
    let a = a.clamp(-87.0, 0.0);
    // n = round(a·log₂e) by the 1.5·2²³ trick: adding it leaves the rounded integer in
    // the low mantissa bits (no `floor`, which is a library call without SSE4.1).
    const MAGIC: f32 = 12_582_912.0;
    let shifted = a * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let n_int = shifted.to_bits() as i32 - MAGIC.to_bits() as i32;
    let r = a - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2ⁿ for n in −126..=0, built from its exponent bits.
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    y * scale
}

/// `log(1 + e)` for `e` in `[0, 1]`, within 2 ulp, as `2·atanh(s)` with `s = e/(2+e)`
/// (at most ⅓, so eight odd terms of the series reach `f32` precision, and small `e` keeps
/// its relative precision). Branch-free; tested against the standard library.
#[inline(always)]
pub fn log1p_unit(e: f32) -> f32 {
    let s = e / (2.0 + e);
    let s2 = s * s;
    let mut q = 1.0f32 / 15.0;
    q = q * s2 + 1.0 / 13.0;
    q = q * s2 + 1.0 / 11.0;
    q = q * s2 + 1.0 / 9.0;
    q = q * s2 + 1.0 / 7.0;
    q = q * s2 + 1.0 / 5.0;
    q = q * s2 + 1.0 / 3.0;
    // 2s + 2s·s²·q: the leading term carries most of the value, the small tail its error.
    let t = 2.0 * s;
    t + t * (s2 * q)
}

/// The backward step of [`bce_with_logits_rows`]: each logit's gradient is its row's
/// incoming gradient times the saved `σ(l) − x`.
#[derive(Debug)]
struct BceRows;

impl Backward<Flex, 1> for BceRows {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let diff = ops.state;
        unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
            let g = contiguous(grad);
            let (g, d) = (values(&g), values(&diff));
            let cols = d.len().checked_div(g.len()).unwrap_or(0);
            let mut out = Vec::with_capacity(d.len());
            for (dr, &gr) in d.chunks_exact(cols.max(1)).zip(g) {
                out.extend(dr.iter().map(|&v| v * gr));
            }
            from_vec(out, diff.layout().shape().clone())
        });
    }
}
