//! One Adam per optimisation phase, and its state as data ([`AdamState`]) so that a
//! checkpoint can carry it and a run resumes exactly where it stopped.
//!
//! On the CPU backend the update runs over flat buffers ([`FlatAdam`]); on other backends as
//! tensor operations on the device ([`TensorAdam`]). Both apply the same rule (burn's Adam
//! with L2 weight decay: see [`FlatAdam`]) and keep their moments per parameter; the state
//! they export names each parameter by its path in the module (`encoder.mu.weight`), since
//! parameter ids are drawn afresh whenever a model is built.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::config::OptimConfig;
use super::metrics::host_vec;
use crate::cpu::{AdamRule, FlatAdam};

/// Adam's ε.
pub const ADAM_EPSILON: f32 = 1e-8;

/// One parameter's Adam state: its path in the module, steps taken, and both moments
/// (flattened, row-major; as long as the parameter).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamMoments {
    /// Where the parameter sits in the module, e.g. `encoder.mu.weight`.
    pub path: String,
    /// Updates applied to it (Adam's `t`, for the bias corrections).
    pub time: u32,
    /// First moment.
    pub m: Vec<f32>,
    /// Second moment.
    pub v: Vec<f32>,
}

/// One phase's optimiser state, parameter by parameter in the module's visiting order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdamState {
    /// The parameters that have been updated at least once.
    pub params: Vec<ParamMoments>,
}

/// The steps-taken counters of an [`AdamState`] (what a checkpoint's header carries; the
/// moments go into its tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamTimes {
    /// `(path, time)` per parameter, in the state's order.
    pub params: Vec<(String, u32)>,
}

/// Every float parameter of `module` with its path (names joined by `.`), in visiting order.
pub fn param_paths<M: Module>(module: &M) -> Vec<(ParamId, String, usize)> {
    struct Paths {
        stack: Vec<String>,
        found: Vec<(ParamId, String, usize)>,
    }
    impl ModuleVisitor for Paths {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.stack.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.stack.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let len = param.lazy_shape().num_elements();
            self.found.push((param.id, self.stack.join("."), len));
        }
    }
    let mut v = Paths {
        stack: Vec::new(),
        found: Vec::new(),
    };
    module.visit(&mut v);
    v.found
}

/// One phase's Adam.
pub enum PhaseOptim {
    /// Flat buffers on the CPU backend.
    Flat(FlatAdam),
    /// Tensor operations on any other device.
    Tensor(TensorAdam),
}

impl PhaseOptim {
    /// Adam with `cfg`'s settings (and `beta1` instead of the run's when given), over flat
    /// buffers when `cpu`.
    pub fn new(cfg: &OptimConfig, beta1: Option<f32>, cpu: bool) -> Self {
        let rule = AdamRule {
            beta1: beta1.unwrap_or(cfg.beta1),
            beta2: cfg.beta2,
            epsilon: ADAM_EPSILON,
            weight_decay: cfg.weight_decay,
        };
        if cpu {
            Self::Flat(FlatAdam::new(rule))
        } else {
            Self::Tensor(TensorAdam::new(rule))
        }
    }

    /// One update of `module`'s parameters that have a gradient in `grads`, at rate `lr`.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Self::Flat(o) => o.step(lr, module, grads),
            Self::Tensor(o) => o.step(lr, module, grads),
        }
    }

    /// The state, named by `module`'s parameter paths (moments copied to the host).
    pub fn export<M: Module>(&self, module: &M) -> AdamState {
        let params = param_paths(module)
            .into_iter()
            .filter_map(|(id, path, _)| {
                let (m, v, time) = match self {
                    Self::Flat(o) => o.moments(id)?,
                    Self::Tensor(o) => o.moments(id)?,
                };
                Some(ParamMoments { path, time, m, v })
            })
            .collect();
        AdamState { params }
    }

    /// Take `state` over for `module`'s parameters. Every entry must name a parameter of
    /// the module and match its size; the message says which does not.
    pub fn import<M: Module>(&mut self, module: &M, state: &AdamState) -> Result<(), String> {
        let paths: HashMap<String, (ParamId, usize)> = param_paths(module)
            .into_iter()
            .map(|(id, path, len)| (path, (id, len)))
            .collect();
        let mut resolved = Vec::with_capacity(state.params.len());
        for p in &state.params {
            let Some(&(id, len)) = paths.get(&p.path) else {
                return Err(format!("optimiser state for {}: no such parameter", p.path));
            };
            if p.m.len() != len || p.v.len() != len {
                return Err(format!(
                    "optimiser state for {}: {} and {} values, the parameter has {len}",
                    p.path,
                    p.m.len(),
                    p.v.len()
                ));
            }
            if p.time == 0 {
                return Err(format!("optimiser state for {}: step count 0", p.path));
            }
            resolved.push((id, p));
        }
        for (id, p) in resolved {
            match self {
                Self::Flat(o) => o.set_moments(id, p.m.clone(), p.v.clone(), p.time),
                Self::Tensor(o) => o.set_moments(id, &p.m, &p.v, p.time, module),
            }
        }
        Ok(())
    }
}

/// A parameter's moments on its device, flattened.
#[derive(Debug, Clone)]
struct DeviceMoments {
    m: Tensor<1>,
    v: Tensor<1>,
    time: u32,
}

/// Adam as tensor operations on the parameters' device, following the same [`AdamRule`] as
/// [`FlatAdam`], so both agree to rounding (tested).
#[derive(Debug, Clone)]
pub struct TensorAdam {
    rule: AdamRule,
    states: HashMap<ParamId, DeviceMoments>,
}

impl TensorAdam {
    /// Adam following `rule`, with no state yet.
    pub fn new(rule: AdamRule) -> Self {
        Self {
            rule,
            states: HashMap::new(),
        }
    }

    /// One step at learning rate `lr` of every float parameter of `module` that has a
    /// gradient in `grads`.
    pub fn step<M: Module>(&mut self, lr: f64, module: M, mut grads: GradientsParams) -> M {
        module.map(&mut TensorAdamStep {
            adam: self,
            grads: &mut grads,
            lr: lr as f32,
        })
    }

    fn moments(&self, id: ParamId) -> Option<(Vec<f32>, Vec<f32>, u32)> {
        let s = self.states.get(&id)?;
        Some((host_vec(s.m.clone()), host_vec(s.v.clone()), s.time))
    }

    fn set_moments<M: Module>(&mut self, id: ParamId, m: &[f32], v: &[f32], time: u32, module: &M) {
        let Some(device) = param_device(module, id) else {
            return;
        };
        let n = m.len();
        let tensor = |x: &[f32]| Tensor::from_data(TensorData::new(x.to_vec(), [n]), &device);
        self.states.insert(
            id,
            DeviceMoments {
                m: tensor(m),
                v: tensor(v),
                time,
            },
        );
    }
}

/// The (inner, no autodiff) device of parameter `id` of `module`.
fn param_device<M: Module>(module: &M, id: ParamId) -> Option<burn::tensor::Device> {
    struct Find {
        id: ParamId,
        device: Option<burn::tensor::Device>,
    }
    impl ModuleVisitor for Find {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if param.id == self.id {
                self.device = Some(param.val().inner().device());
            }
        }
    }
    let mut f = Find { id, device: None };
    module.visit(&mut f);
    f.device
}

struct TensorAdamStep<'a> {
    adam: &'a mut TensorAdam,
    grads: &'a mut GradientsParams,
    lr: f32,
}

impl ModuleMapper for TensorAdamStep<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return param;
        };
        let (id, tensor, mapper) = param.consume();
        let require_grad = tensor.is_require_grad();
        let autodiff = tensor.is_autodiff();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let theta: Tensor<1> = tensor.inner().reshape([n]);
        let rule = self.adam.rule;
        let (b1, b2) = (rule.beta1, rule.beta2);
        let mut g: Tensor<1> = grad.reshape([n]);
        if rule.weight_decay > 0.0 {
            g = theta.clone().mul_scalar(rule.weight_decay) + g;
        }
        let prev = self.adam.states.remove(&id).filter(|s| s.m.dims()[0] == n);
        let (m, v, time) = match prev {
            Some(s) => (s.m, s.v, s.time),
            None => (g.zeros_like(), g.zeros_like(), 0),
        };
        let time = time + 1;
        let m = m.mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
        let v = v.mul_scalar(b2) + g.square().mul_scalar(1.0 - b2);
        let (combined, eps) = rule.corrections(time);
        let step = m.clone().mul_scalar(combined) / v.clone().sqrt().add_scalar(eps);
        let updated = theta - step.mul_scalar(self.lr);
        self.adam.states.insert(id, DeviceMoments { m, v, time });
        let mut value: Tensor<D> = updated.reshape(shape);
        if autodiff {
            value = Tensor::from_inner(value);
        }
        if require_grad {
            value = value.require_grad();
        }
        Param::from_mapped_value(id, value, mapper)
    }
}
