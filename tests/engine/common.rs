//! Shared helpers.

use std::sync::{Arc, OnceLock};

use burn::tensor::{Device, Tensor, TensorData};
use latent_explorer::data::Dataset;

pub fn cpu() -> Device {
    Device::flex()
}

/// The bundled dataset, parsed once per test binary.
pub fn bundled() -> Arc<Dataset> {
    static DATA: OnceLock<Arc<Dataset>> = OnceLock::new();
    DATA.get_or_init(|| Arc::new(Dataset::bundled().expect("bundled data parses")))
        .clone()
}

/// The bundled dataset cut down to `train` / `test` images.
pub fn small(train: usize, test: usize) -> Arc<Dataset> {
    let d = bundled();
    Arc::new(Dataset {
        name: format!("bundled subset {train}/{test}"),
        train: d.train.take(train),
        test: d.test.take(test),
        factors: None,
    })
}

pub fn t2(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Every float parameter of a module, flattened in visiting order (autodiff or not).
pub fn param_values<M: burn::module::Module>(m: &M) -> Vec<f32> {
    use burn::module::{ModuleVisitor, Param};
    struct V(Vec<f32>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(vec_of(p.val().inner()));
        }
    }
    let mut v = V(Vec::new());
    m.visit(&mut v);
    v.0
}

/// The largest element-wise |a − b| of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn scalar(t: Tensor<1>) -> f64 {
    vec_of(t)[0] as f64
}

/// A small deterministic pseudo-random stream (tests must not depend on burn's RNG state).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller.
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub fn normals(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal() as f32).collect()
    }
}

/// log((1/n) Σ exp(v_i)) on the host in f64, with the maximum taken out.
pub fn log_mean_exp_host(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::MIN, f64::max);
    max + (v.iter().map(|x| (x - max).exp()).sum::<f64>() / v.len() as f64).ln()
}

/// Host log p(x | logits) under the Bernoulli likelihood (soft targets allowed), summed, f64.
pub fn log_bernoulli(x: &[f32], logits: &[f32]) -> f64 {
    let softplus = |l: f64| l.max(0.0) + (-l.abs()).exp().ln_1p();
    x.iter()
        .zip(logits)
        .map(|(&x, &l)| {
            let (x, l) = (x as f64, l as f64);
            -x * softplus(-l) - (1.0 - x) * softplus(l)
        })
        .sum()
}

/// Host log density of `x` under N(μ, exp(lv)), summed, f64.
pub fn log_normal_host(x: &[f32], mu: &[f32], lv: &[f32]) -> f64 {
    x.iter()
        .zip(mu)
        .zip(lv)
        .map(|((&x, &m), &l)| {
            let (x, m, l) = (x as f64, m as f64, l as f64);
            -0.5 * ((x - m).powi(2) / l.exp() + l + latent_explorer::model::gaussian::LN_2PI)
        })
        .sum()
}
