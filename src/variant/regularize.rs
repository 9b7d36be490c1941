//! Parameter penalties: the L1 weight penalty as a differentiable loss term. (L2 weight decay
//! is applied by the optimiser.)

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct AbsSum {
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for AbsSum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let s = param.val().abs().sum();
        self.total = Some(match self.total.take() {
            Some(t) => t + s,
            None => s,
        });
    }
}

/// `Σ |θ|` over every float parameter of `module`, as a `[1]` tensor (None if it has none).
pub fn l1_norm<M: Module>(module: &M) -> Option<Tensor<1>> {
    let mut v = AbsSum { total: None };
    module.visit(&mut v);
    v.total
}
