//! The gradient of a split batch: the parts' gradients summed, with the squared norm, in
//! one pass over the buffers on the lanes.

use std::collections::HashMap;
use std::sync::Mutex;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::flex::{Collect, Shared, from_vec, over_chunks, values};

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
