//! [`AdamRule`]: Adam's settings and bias corrections (burn's arrangement), which every
//! Adam here follows; [`FlatAdam`]: the rule over flat buffers on the lanes.

use std::collections::HashMap;

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::flex::{Collect, Shared, from_vec, over_chunks, values};
use super::simd::multiversion;

/// Adam's settings, and its bias corrections as burn arranges them: per element, with `g`
/// the gradient plus `decay · θ`, `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, then
/// `θ ← θ − lr · m·c / (√v + ε·√(1−β₂ᵗ))` with `c = √(1−β₂ᵗ) / (1−β₁ᵗ)`. [`FlatAdam`] and
/// the tensor Adam of other backends (`train::optim`) both follow it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamRule {
    /// β₁, the first moment's decay.
    pub beta1: f32,
    /// β₂, the second moment's decay.
    pub beta2: f32,
    /// ε, added to the second moment's square root.
    pub epsilon: f32,
    /// L2 weight decay added to the gradient (0: none).
    pub weight_decay: f32,
}

impl AdamRule {
    /// For update number `time` (1-based): the factor `c` on the first moment and the ε
    /// term `ε·√(1−β₂ᵗ)` of the update above.
    pub fn corrections(&self, time: u32) -> (f32, f32) {
        let t = i32::try_from(time).unwrap_or(i32::MAX);
        let bc2 = (1.0 - self.beta2.powi(t)).sqrt();
        (bc2 / (1.0 - self.beta1.powi(t)), self.epsilon * bc2)
    }
}

/// Adam's two moments and step count for one parameter.
#[derive(Debug, Clone)]
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
    time: i32,
}

/// Adam (Kingma & Ba) with burn's exact update rule ([`AdamRule`]) and L2 weight decay,
/// over flat buffers: one pass per parameter instead of burn's eleven tensor operations,
/// spread over the lanes; burn's and this one agree to rounding.
#[derive(Debug, Clone)]
pub struct FlatAdam {
    rule: AdamRule,
    states: HashMap<ParamId, Moments>,
}

impl FlatAdam {
    /// Adam following `rule`, with no state yet.
    pub fn new(rule: AdamRule) -> Self {
        Self {
            rule,
            states: HashMap::new(),
        }
    }

    /// Parameter `id`'s first and second moments and its updates so far, if it has been
    /// updated.
    pub fn moments(&self, id: ParamId) -> Option<(Vec<f32>, Vec<f32>, u32)> {
        let s = self.states.get(&id)?;
        Some((s.m.clone(), s.v.clone(), u32::try_from(s.time).unwrap_or(0)))
    }

    /// Set parameter `id`'s moments and update count (`m` and `v` as long as the parameter;
    /// a parameter of another size starts afresh at its next update).
    pub fn set_moments(&mut self, id: ParamId, m: Vec<f32>, v: Vec<f32>, time: u32) {
        let time = i32::try_from(time).unwrap_or(i32::MAX);
        self.states.insert(id, Moments { m, v, time });
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
        let r = self.rule;
        let (b1, b2, wd, lr) = (r.beta1, r.beta2, r.weight_decay, lr as f32);
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
            let (combined, eps) = r.corrections(u32::try_from(st.time).unwrap_or(0));
            let scalars = AdamScalars {
                b1,
                b2,
                wd,
                combined,
                eps,
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

multiversion! {
    /// The Adam update of one range of elements: sixteen or eight lanes for the square root
    /// and the division that bound it where the CPU has them ([`super::simd`]). The same
    /// arithmetic at every level, so the same results (Rust never fuses `a·b + c` itself).
    #[inline(never)]
    fn adam_kernel / adam_kernel_avx512 / adam_kernel_avx2 =
        adam_kernel_body(theta: &[f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], s: AdamScalars)
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
