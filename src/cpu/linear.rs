//! A linear layer, `y = x·W + b`, as one operation on the CPU backend with its own
//! backward step, used by the MLP encoders and decoders.
//!
//! burn's `Linear` is a matrix product and a broadcast add: the product's output is
//! allocated zeroed and then copied once more to align it (burn-flex's `FlexTensor::empty`),
//! and the bias is a second pass. Here the output is written once: filled with the bias,
//! then accumulated into by `gemm` (the crate burn-flex calls), and the gradients are
//! written straight into fresh buffers.
//!
//! **Sparse inputs.** Where at most [`SPARSE_MAX_DENSITY`] of the input's values are
//! non-zero (a batch of MNIST digits: about 19%), the product and the weight gradient
//! `xᵀ·∂y` skip the zeros: each output row sums only the weight rows of its non-zero
//! inputs, and each weight-gradient row only the batch rows where its input is non-zero.
//! The result is the same sum without its zero terms (in another order, so equal to
//! rounding), at a fifth of the multiplications. One difference is deliberate: a
//! non-finite weight whose input is zero in every row of the batch does not reach the
//! output (`0 · ∞` is not formed), as it would in a dense product.
//!
//! Every result is tested against burn's own `Linear` and its autodiff gradients
//! (`tests/engine/cpu.rs`).

use std::mem::MaybeUninit;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::nn::Linear;
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::flex::{contiguous, flex_f32, from_vec, values};
use super::simd::multiversion;

/// Inputs with at most this fraction of non-zero values take the sparse kernels.
///
/// `cargo bench --bench linear` (784 → 400, 64 rows, forward and backward, AVX2, 2 cores):
/// on one thread the sparse path breaks even with `gemm` near 35% density (0.35 / 0.60 /
/// 0.81 ms at 10 / 20 / 30%, `gemm` 0.95 ms); on two, near 32% (0.33 / 0.40 / 0.55 ms,
/// `gemm` 0.59 ms). A batch of digits is 19% non-zero.
pub const SPARSE_MAX_DENSITY: f32 = 0.25;

/// Layers narrower than this (outputs) always take the dense path: too few columns to
/// fill the sparse kernel's vector registers.
const SPARSE_MIN_WIDTH: usize = 32;

/// Output columns a sparse kernel keeps in registers at once.
const CH: usize = 64;

/// Rows per unit of work when a sparse product is shared among rayon's threads.
const PAR_ROWS: usize = 32;

/// Sparse products with at least this many multiply-adds are shared among rayon's threads
/// when there are several (not inside a training lane, which has one).
const PAR_SPARSE_MACS: usize = 1 << 21;

/// Products with at least this many multiply-adds may use rayon's threads (burn-flex's
/// threshold; inside a training lane rayon has one thread).
const PAR_MACS: usize = 192 * 192 * 192;

/// `layer.forward(x)`, as one operation on the CPU backend (see the module's text).
/// Anything else (another backend, no bias, mismatched shapes, which burn reports) goes
/// to burn's own `Linear`.
pub fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    linear_with_density(layer, x, SPARSE_MAX_DENSITY)
}

/// [`linear`], taking the sparse kernels for inputs with at most `max_density` of their
/// values non-zero (`0.0`: never, unless the input is all zeros; `1.0`: always, for layers
/// wide enough). For benchmarks and tests of either path.
pub fn linear_with_density(layer: &Linear, x: Tensor<2>, max_density: f32) -> Tensor<2> {
    let Some(bias) = &layer.bias else {
        return layer.forward(x);
    };
    let (w, b) = (layer.weight.val(), bias.val());
    let [rows, k] = x.dims();
    let [wk, n] = w.dims();
    let same_kind = x.is_autodiff() == w.is_autodiff() && w.is_autodiff() == b.is_autodiff();
    if x.device() != burn::tensor::Device::flex() || wk != k || b.dims() != [n] || !same_kind {
        return layer.forward(x);
    }
    if !x.is_autodiff() {
        let (xs, ws, bs) = (flex_f32(x), flex_f32(w), flex_f32(b));
        let sparse = Sparse::of(values(&xs), rows, k, n, max_density);
        let y = forward(values(&xs), sparse.as_ref(), [rows, k, n], &ws, &bs);
        return Tensor::from_primitive::<Flex>(y);
    }
    let parts = (
        x.clone().try_into_primitive::<Autodiff<Flex>>(),
        w.try_into_primitive::<Autodiff<Flex>>(),
        b.try_into_primitive::<Autodiff<Flex>>(),
    );
    let (Ok(xa), Ok(wa), Ok(ba)) = parts else {
        return layer.forward(x);
    };
    let ((xp, xg), (wp, wg), (bp, bg)) = (xa.into_parts(), wa.into_parts(), ba.into_parts());
    let (xs, ws, bs) = (contiguous(xp), contiguous(wp), contiguous(bp));
    let sparse = Sparse::of(values(&xs), rows, k, n, max_density);
    let y = forward(values(&xs), sparse.as_ref(), [rows, k, n], &ws, &bs);
    let prep = LinearOp
        .prepare::<NoCheckpointing>([xg, wg, bg])
        .compute_bound();
    let out = match prep.stateful() {
        OpsKind::Tracked(prep) => {
            let state = LinearState {
                dims: [rows, k, n],
                x: xs,
                sparse,
                w: ws,
            };
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(out)
}

/// `gemm`'s threading for an `m × n × k` product.
fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= PAR_MACS && super::lanes::may_share() {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// A row-major matrix's rows as lists of their non-zero values and column indices.
#[derive(Clone, Debug)]
struct Sparse {
    /// Row `r`'s entries are `starts[r]..starts[r + 1]`.
    starts: Vec<usize>,
    /// Column of each entry.
    cols: Vec<u32>,
    /// Value of each entry.
    vals: Vec<f32>,
}

impl Sparse {
    /// `x` (`rows × k`) in sparse form, when at most `max_density` of it is non-zero (NaN
    /// counts as non-zero) and the layer has enough outputs (`n`) to be worth it.
    fn of(x: &[f32], rows: usize, k: usize, n: usize, max_density: f32) -> Option<Self> {
        if n < SPARSE_MIN_WIDTH || k == 0 || x.is_empty() || u32::try_from(k.max(rows)).is_err() {
            return None;
        }
        let nnz = x.iter().filter(|&&v| v != 0.0).count();
        if nnz as f32 > max_density * x.len() as f32 {
            return None;
        }
        // Branch-free (a digit's zeros and non-zeros alternate unpredictably): every value
        // is written at the end, which only moves on past a non-zero one.
        let mut cols = vec![0u32; nnz + 1];
        let mut vals = vec![0.0f32; nnz + 1];
        let mut starts = Vec::with_capacity(rows + 1);
        starts.push(0);
        let mut len = 0;
        for row in x.chunks_exact(k) {
            for (c, &v) in row.iter().enumerate() {
                // `len ≤ nnz` here: it counts the non-zero values before this one.
                // `k` fits in u32 (checked above).
                cols[len] = c as u32;
                vals[len] = v;
                len += usize::from(v != 0.0);
            }
            starts.push(len);
        }
        cols.truncate(nnz);
        vals.truncate(nnz);
        let s = Self { starts, cols, vals };
        Some(s)
    }

    /// Number of rows.
    fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// Row `r`'s column indices and values.
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.starts[r], self.starts[r + 1]);
        (&self.cols[a..b], &self.vals[a..b])
    }

    /// The transpose (`k` rows), each row's entries in increasing column order.
    fn transpose(&self, k: usize) -> Self {
        let mut starts = vec![0usize; k + 1];
        for &c in &self.cols {
            starts[c as usize + 1] += 1;
        }
        for i in 0..k {
            starts[i + 1] += starts[i];
        }
        let mut next = starts.clone();
        let mut cols = vec![0u32; self.cols.len()];
        let mut vals = vec![0f32; self.vals.len()];
        for r in 0..self.rows() {
            let (cs, vs) = self.row(r);
            for (&c, &v) in cs.iter().zip(vs) {
                let at = &mut next[c as usize];
                // The number of rows fits in u32 (checked in `of`).
                cols[*at] = r as u32;
                vals[*at] = v;
                *at += 1;
            }
        }
        Self { starts, cols, vals }
    }
}

/// `x·W + b` for `x` of `rows × k` (with its sparse form when it has one), `W` of `k × n`.
fn forward(
    x: &[f32],
    sparse: Option<&Sparse>,
    [rows, k, n]: [usize; 3],
    w: &FlexTensor,
    b: &FlexTensor,
) -> FlexTensor {
    let (w, b) = (values(w), values(b));
    let y = match sparse {
        Some(s) => sparse_product(s, w, n, b),
        None => product(rows, n, k, (x, 1, k as isize), (w, 1, n as isize), Some(b)),
    };
    from_vec(y, Shape::new([rows, n]))
}

/// What the backward step of [`linear`] needs.
#[derive(Clone, Debug)]
struct LinearState {
    /// Rows, inputs, outputs.
    dims: [usize; 3],
    /// The input.
    x: FlexTensor,
    /// The input's sparse form, when the forward pass used it.
    sparse: Option<Sparse>,
    /// The weights.
    w: FlexTensor,
}

/// The backward step of [`linear`]: `∂x = ∂y·Wᵀ`, `∂W = xᵀ·∂y`, `∂b = Σ_rows ∂y`, each only
/// when its input is tracked.
#[derive(Debug)]
struct LinearOp;

impl Backward<Flex, 3> for LinearOp {
    type State = LinearState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pw, pb] = ops.parents;
        let LinearState { dims, x, sparse, w } = ops.state;
        let [rows, k, n] = dims;
        let g = contiguous(grads.consume::<Flex>(&ops.node));
        let gv = values(&g);
        if let Some(node) = pb {
            let mut db = vec![0.0f32; n];
            for row in gv.chunks_exact(n.max(1)) {
                for (d, &v) in db.iter_mut().zip(row) {
                    *d += v;
                }
            }
            grads.register::<Flex>(node.id, from_vec(db, Shape::new([n])));
        }
        if let Some(node) = pw {
            let dw = match &sparse {
                Some(s) => sparse_product(&s.transpose(k), gv, n, &vec![0.0; n]),
                // xᵀ (k × rows) reads `x` with its strides swapped.
                None => product(
                    k,
                    n,
                    rows,
                    (values(&x), k as isize, 1),
                    (gv, 1, n as isize),
                    None,
                ),
            };
            grads.register::<Flex>(node.id, from_vec(dw, Shape::new([k, n])));
        }
        if let Some(node) = px {
            // Wᵀ (n × k) reads `w` with its strides swapped.
            let dx = product(
                rows,
                k,
                n,
                (gv, 1, n as isize),
                (values(&w), n as isize, 1),
                None,
            );
            grads.register::<Flex>(node.id, from_vec(dx, Shape::new([rows, k])));
        }
    }
}

/// `start + lhs·rhs` (`m × depth` times `depth × n`, `start` a row of `n` added to every
/// row, or nothing) into a new row-major `m × n` buffer; each operand given as its values
/// and its column and row strides.
fn product(
    m: usize,
    n: usize,
    depth: usize,
    (lhs, lhs_cs, lhs_rs): (&[f32], isize, isize),
    (rhs, rhs_cs, rhs_rs): (&[f32], isize, isize),
    start: Option<&[f32]>,
) -> Vec<f32> {
    assert!(
        lhs.len() >= m * depth && rhs.len() >= depth * n,
        "operand sizes"
    );
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    if let Some(row) = start {
        assert_eq!(row.len(), n, "start row");
        for _ in 0..m {
            out.extend_from_slice(row);
        }
    }
    // SAFETY: the operands hold `m × depth` and `depth × n` values (asserted above) and
    // every stride pair addresses inside them; `out` has room for `m × n`. With a start
    // row, `out` holds `m × n` values and gemm reads then writes them (`read_dst`).
    // Without one, `read_dst = false`: gemm writes every element of the destination and
    // reads none before writing it (gemm-common sets alpha to zero and stores), so all
    // `m × n` are initialised when `set_len` runs.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            out.as_mut_ptr(),
            1,
            n as isize,
            start.is_some(),
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism(m, n, depth),
        );
        out.set_len(m * n);
    }
    out
}

/// `a + v·w`: fused where the CPU has FMA (the kernels are compiled twice).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, v: f32, w: f32) -> f32 {
    if FMA { v.mul_add(w, a) } else { a + v * w }
}

/// `start + s·m`: each row of the sparse `s` times the row-major `m` (`n` columns), with
/// the row `start` (`n` values) added to every row. The forward product is `b + x·W`; the
/// weight gradient is `0 + xᵀ·∂y`, with `xᵀ` the transpose of the sparse input.
fn sparse_product(s: &Sparse, m: &[f32], n: usize, start: &[f32]) -> Vec<f32> {
    let rows = s.rows();
    let mut out: Vec<f32> = Vec::with_capacity(rows * n);
    let dst = &mut out.spare_capacity_mut()[..rows * n];
    let shared =
        n * s.vals.len() >= PAR_SPARSE_MACS && rows > PAR_ROWS && super::lanes::may_share();
    if shared {
        dst.par_chunks_mut(PAR_ROWS * n)
            .enumerate()
            .for_each(|(i, o)| sparse_rows(s, i * PAR_ROWS, m, n, start, o));
    } else {
        sparse_rows(s, 0, m, n, start, dst);
    }
    // SAFETY: `sparse_rows` wrote every element of each block of rows it was given (every
    // row, every column block), and the blocks cover `0..rows`.
    unsafe { out.set_len(rows * n) };
    out
}

multiversion! {
    /// Rows `first..` of [`sparse_product`] into `out` (as many rows as it holds): fused
    /// multiply-adds at AVX2 and AVX-512 (a block of 64 columns is four AVX-512 registers),
    /// unfused at the baseline.
    fn sparse_rows / sparse_rows_avx512 / sparse_rows_avx2 = sparse_rows_fused else sparse_rows_unfused (
        s: &Sparse,
        first: usize,
        m: &[f32],
        n: usize,
        start: &[f32],
        out: &mut [MaybeUninit<f32>],
    )
}

#[inline(always)]
fn sparse_rows_fused(
    s: &Sparse,
    first: usize,
    m: &[f32],
    n: usize,
    start: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    sparse_rows_body::<true>(s, first, m, n, start, out)
}

#[inline(always)]
fn sparse_rows_unfused(
    s: &Sparse,
    first: usize,
    m: &[f32],
    n: usize,
    start: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    sparse_rows_body::<false>(s, first, m, n, start, out)
}

/// Column block by column block, so that the block of `m` in use stays in cache while
/// every row reads its scattered rows of it: in the forward product a `k × 64` block of
/// `W` (L2), in the weight gradient a `rows × 64` block of `∂y` (L1).
#[inline(always)]
fn sparse_rows_body<const FMA: bool>(
    s: &Sparse,
    first: usize,
    m: &[f32],
    n: usize,
    start: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    let mut c = 0;
    while c < n {
        let width = block_width(n - c);
        let start = &start[c..c + width];
        for (i, orow) in out.chunks_exact_mut(n).enumerate() {
            let (idx, vals) = s.row(first + i);
            let orow = &mut orow[c..c + width];
            match width {
                64 => axpy::<FMA, 64>(idx, vals, m, n, c, start, orow),
                32 => axpy::<FMA, 32>(idx, vals, m, n, c, start, orow),
                16 => axpy::<FMA, 16>(idx, vals, m, n, c, start, orow),
                _ => axpy::<FMA, 8>(idx, vals, m, n, c, start, orow),
            }
        }
        c += width;
    }
}

/// The widest block (64, 32, 16 or 8 columns, else what is left) for `left` columns: a
/// layer of 400 outputs takes six blocks of 64 and one of 16, each in vector registers.
fn block_width(left: usize) -> usize {
    [CH, 32, 16, 8]
        .into_iter()
        .find(|&w| left >= w)
        .unwrap_or(left)
}

/// `out = start + Σ v · m[i, c..c + width]` over the listed rows `i` of the `n`-wide matrix
/// `m` with their values `v`, for `width = start.len()` at most `W`: `W` accumulators, kept
/// in registers (a full block of `W` columns is unrolled).
#[inline(always)]
fn axpy<const FMA: bool, const W: usize>(
    rows: &[u32],
    vals: &[f32],
    m: &[f32],
    n: usize,
    c: usize,
    start: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    let width = start.len();
    // The full block's accumulators start from a fixed-length copy, so that they stay in
    // registers (with a copy of a run-time length, `cargo bench --bench linear` ran 2–4%
    // slower).
    let mut acc = [0.0f32; W];
    if width == W {
        acc.copy_from_slice(&start[..W]);
        for (&i, &v) in rows.iter().zip(vals) {
            let at = i as usize * n + c;
            let mr = &m[at..at + W];
            for j in 0..W {
                acc[j] = madd::<FMA>(acc[j], v, mr[j]);
            }
        }
    } else {
        acc[..width].copy_from_slice(start);
        for (&i, &v) in rows.iter().zip(vals) {
            let at = i as usize * n + c;
            for (a, &mv) in acc[..width].iter_mut().zip(&m[at..at + width]) {
                *a = madd::<FMA>(*a, v, mv);
            }
        }
    }
    for (o, &a) in out.iter_mut().zip(&acc[..width]) {
        o.write(a);
    }
}
