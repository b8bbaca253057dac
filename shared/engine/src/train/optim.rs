//! AdamW and SGD with momentum written on tensors, so every moment buffer is ours to
//! checkpoint, plus the learning-rate schedule (linear warm-up, then cosine decay to zero).

use serde::{Deserialize, Serialize};
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    #[default]
    Adamw,
    Sgd,
}

impl std::str::FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown optimizer {s:?} (adamw, sgd)"))
    }
}

impl OptimizerKind {
    pub fn default_weight_decay(self) -> f64 {
        match self {
            Self::Adamw => 0.01,
            Self::Sgd => 5e-4,
        }
    }

    fn slot_names(self) -> &'static [&'static str] {
        match self {
            Self::Adamw => &["exp_avg", "exp_avg_sq"],
            Self::Sgd => &["momentum_buffer"],
        }
    }
}

/// Learning rate for the step with 0-based index `step` of `total`.
pub fn learning_rate(base: f64, step: u64, total: u64, warmup: u64) -> f64 {
    if step < warmup {
        return base * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    base * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

#[derive(Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    params: Vec<(String, Tensor)>,
    /// Weight decay applies to weight matrices and kernels, not to biases and norms.
    decays: Vec<bool>,
    slots: Vec<Vec<Tensor>>,
    step: u64,
    weight_decay: f64,
    momentum: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Optimizer {
    pub fn new(
        kind: OptimizerKind,
        params: Vec<(String, Tensor)>,
        weight_decay: f64,
        momentum: f64,
    ) -> Self {
        let decays = params.iter().map(|(_, p)| p.dim() > 1).collect();
        let slots = params
            .iter()
            .map(|(_, p)| kind.slot_names().iter().map(|_| p.zeros_like()).collect())
            .collect();
        Optimizer {
            kind,
            params,
            decays,
            slots,
            step: 0,
            weight_decay,
            momentum,
        }
    }

    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    pub fn zero_grad(&self) {
        for (_, p) in &self.params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.detach_();
                let _ = g.zero_();
            }
        }
    }

    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        tch::no_grad(|| {
            for i in 0..self.params.len() {
                let g = self.params[i].1.grad();
                if g.defined() {
                    match self.kind {
                        OptimizerKind::Adamw => self.adamw(i, &g, lr),
                        OptimizerKind::Sgd => self.sgd(i, &g, lr),
                    }
                }
            }
        });
    }

    fn adamw(&mut self, i: usize, g: &Tensor, lr: f64) {
        let mut p = self.params[i].1.shallow_clone();
        if self.decays[i] {
            let _ = p.g_mul_scalar_(1.0 - lr * self.weight_decay);
        }
        let t = self.step as i32;
        let (bc1, bc2) = (1.0 - BETA1.powi(t), 1.0 - BETA2.powi(t));
        let [m, v] = &mut self.slots[i][..] else {
            return;
        };
        let _ = m.lerp_(g, 1.0 - BETA1);
        let _ = v.g_mul_scalar_(BETA2);
        let _ = v.addcmul_(g, &(g * (1.0 - BETA2)));
        let denom = v.sqrt() / bc2.sqrt() + EPS;
        let _ = p.addcdiv_(&(&*m * (-lr / bc1)), &denom);
    }

    fn sgd(&mut self, i: usize, g: &Tensor, lr: f64) {
        let mut p = self.params[i].1.shallow_clone();
        let g = if self.decays[i] {
            g + &p * self.weight_decay
        } else {
            g.shallow_clone()
        };
        let buf = &mut self.slots[i][0];
        let _ = buf.g_mul_scalar_(self.momentum);
        let _ = buf.g_add_(&g);
        let _ = p.g_add_(&(&*buf * -lr));
    }

    /// Moment buffers named `optim.<slot>.<parameter>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let names = self.kind.slot_names();
        let mut out = Vec::new();
        for ((name, _), slots) in self.params.iter().zip(&self.slots) {
            for (slot, t) in names.iter().zip(slots) {
                out.push((format!("optim.{slot}.{name}"), t.shallow_clone()));
            }
        }
        out
    }

    /// Restores buffers saved by [`Optimizer::state`]; returns the first missing name, if any.
    pub fn load_state(&mut self, tensors: &[(String, Tensor)], step: u64) -> Result<(), String> {
        let names = self.kind.slot_names();
        tch::no_grad(|| {
            for ((name, _), slots) in self.params.iter().zip(self.slots.iter_mut()) {
                for (slot, t) in names.iter().zip(slots.iter_mut()) {
                    let key = format!("optim.{slot}.{name}");
                    let src = tensors.iter().find(|(n, _)| *n == key).ok_or(key.clone())?;
                    if src.1.size() != t.size() {
                        return Err(format!("{key} has shape {:?}", src.1.size()));
                    }
                    t.copy_(&src.1);
                }
            }
            Ok(())
        })?;
        self.step = step;
        Ok(())
    }
}
