//! The Bernoulli likelihood fused: binary cross-entropy with logits summed per row, one
//! pass forward and one back.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Shape, Tensor};

use super::flex::{contiguous, flex_f32, from_vec, sum_f64, values};
use super::simd::multiversion;

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

multiversion! {
    /// Per row of `cols` values: `Σ softplus(l) − x·l`, and, when `with_diff`, `σ(l) − x` per
    /// element (the gradient of the row sum with respect to each logit). The element-wise
    /// part is branch-free so that it vectorises ([`exp_nonpositive`], [`log1p_unit`]); row
    /// sums are accumulated in `f64`. The same arithmetic at every [`super::simd`] level.
    fn bce_rows_forward / bce_rows_forward_avx512 / bce_rows_forward_avx2 =
        bce_rows_forward_body(l: &[f32], x: &[f32], cols: usize, with_diff: bool) -> (Vec<f32>, Vec<f32>)
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
