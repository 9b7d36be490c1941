//! Shared plumbing of the CPU kernels: burn-flex tensors as flat `f32` buffers, work
//! dealt to the training lanes in chunks, and module visitors that collect parameters.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::module::{ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Shape, Tensor, TensorData};

use super::lanes::lanes;

/// Elements per unit of work handed to a lane.
const CHUNK: usize = 1 << 15;

/// A float tensor's values as a contiguous `f32` flex tensor (a copy only when it is not
/// one already: another backend, another dtype or a strided view).
pub(super) fn flex_f32<const D: usize>(t: Tensor<D>) -> FlexTensor {
    let t = t.inner();
    match t.clone().try_into_primitive::<Flex>() {
        Ok(p) => contiguous(p),
        Err(_) => FlexTensor::from_data(t.into_data().convert::<f32>()),
    }
}

/// The `f32` values of a tensor made by [`flex_f32`].
pub(super) fn values(t: &FlexTensor) -> &[f32] {
    // `flex_f32` only returns tensors for which this is `Some`.
    t.as_slice::<f32>().unwrap_or(&[])
}

/// A new flex tensor of `shape` holding `v`.
pub(super) fn from_vec(v: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape))
}

/// Run `work(j, start, end)` over the index ranges `0..lens[j]` of every job `j`, cut into
/// chunks and dealt round-robin to the training lanes: one hand-off to the lanes for all
/// the jobs. `work` must only touch its own range.
pub(super) fn over_chunks(lens: &[usize], work: impl Fn(usize, usize, usize) + Sync) {
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
pub(super) struct Shared<'a> {
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
    pub(super) fn new(s: &'a mut [f32]) -> Self {
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
    pub(super) unsafe fn range(&self, start: usize, end: usize) -> &mut [f32] {
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
pub(super) struct Collect<'a> {
    pub(super) grads: &'a mut GradientsParams,
    pub(super) with_values: bool,
    pub(super) found: Vec<(ParamId, FlexTensor, Option<FlexTensor>)>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            let value = self.with_values.then(|| flex_f32(param.val()));
            self.found.push((param.id, flex_f32(g), value));
        }
    }
}

/// A contiguous `f32` flex tensor (a copy only when it is not one: a strided view or
/// another dtype).
pub(super) fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        FlexTensor::from_data(t.into_data().convert::<f32>())
    }
}

/// The sum of `v` in `f64`, in eight interleaved partial sums (so that it vectorises; one
/// running sum would be a chain of dependent additions).
#[inline(always)]
pub(super) fn sum_f64(v: &[f32]) -> f64 {
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
