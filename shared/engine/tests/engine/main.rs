//! The training engine as one test binary: augmentation, dataset reading and its refusals
//! (hostile archives among them), the command line, training on synthetic data and on MNIST,
//! resuming and training's refusals, and ONNX export checked by ONNX Runtime.

mod archives;
mod augment;
mod bad_datasets;
mod cli;
mod datasets;
mod export;
mod mnist;
mod resume;
mod train_refusals;
mod training;
