//! A start order trained to a verified model: the reports in order, a metric point for every
//! iteration and epoch, a checkpoint per epoch, and a model whose ONNX file reproduces its
//! verification samples under ONNX Runtime.

use std::collections::BTreeSet;

use tch::Tensor;
use trainyard_core::contracts::dispatch::{DispatchOrder, ObjectRef};
use trainyard_core::contracts::metric::MetricPoint;
use trainyard_core::contracts::model::ModelProduced;
use trainyard_core::contracts::report::{ReportBody, RunStage, WorkerReport};

use crate::helpers::Env;
use crate::reading::is_final;

/// A short name for a report, to compare sequences.
fn kind(report: &WorkerReport) -> String {
    match &report.body {
        ReportBody::Accepted => "accepted".into(),
        ReportBody::Stage { stage } => stage.as_str().into(),
        ReportBody::Running { .. } => "running".into(),
        ReportBody::Progress(_) => "progress".into(),
        ReportBody::Checkpointed(_) => "checkpointed".into(),
        ReportBody::Stopped { .. } => "stopped".into(),
        ReportBody::Failed(f) => format!("failed {}", f.code),
        ReportBody::Succeeded(_) => "succeeded".into(),
    }
}

fn produced(reports: &[WorkerReport]) -> &ModelProduced {
    match &reports.last().unwrap().body {
        ReportBody::Succeeded(model) => model,
        other => panic!("the attempt did not succeed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_order_ends_with_a_verified_model_and_every_report_and_point() {
    let env = Env::start().await;
    let dataset = env.dataset(3, 16, 24).await;
    let order = env.order(&dataset, 60);
    env.send(DispatchOrder::Start(order.clone())).await;
    let reports = env.reports_until(order.process_id, is_final).await;
    let kinds: Vec<String> = reports.iter().map(kind).collect();

    // Stages in order, then training, then the export stages and the outcome.
    let head = [
        "accepted",
        "fetching_dataset",
        "decoding",
        "building_model",
        "running",
    ];
    assert_eq!(kinds[..5], head, "{kinds:?}");
    // After `running`, progress and checkpoints interleave with the export stages (the last
    // checkpoint may be stored while exporting; the time left keeps counting down).
    let rest: Vec<&str> = kinds[5..]
        .iter()
        .map(String::as_str)
        .filter(|k| !matches!(*k, "progress" | "checkpointed"))
        .collect();
    assert_eq!(
        rest,
        ["exporting", "verifying", "storing", "succeeded"],
        "{kinds:?}"
    );
    let middle = &reports[5..reports.len() - 1];
    assert!(reports
        .iter()
        .all(|r| r.attempt == 1 && r.order_id == order.order_id && r.machine_id == env.machine));
    let ids: BTreeSet<_> = reports.iter().map(|r| r.report_id).collect();
    assert_eq!(ids.len(), reports.len(), "report ids are unique");

    let ReportBody::Running {
        total_iterations,
        start_iteration,
        device,
    } = &reports[4].body
    else {
        unreachable!()
    };
    assert_eq!((*total_iterations, *start_iteration), (60, 0));
    assert_eq!(device, "cpu");

    // Progress: throttled to the period, time left within its band, iterations moving on.
    let progress: Vec<_> = middle
        .iter()
        .filter_map(|r| match &r.body {
            ReportBody::Progress(p) => Some((r.sent_at, p)),
            _ => None,
        })
        .collect();
    assert!(!progress.is_empty(), "{kinds:?}");
    for pair in progress.windows(2) {
        let gap = (pair[1].0 - pair[0].0).num_milliseconds();
        assert!(
            gap >= 45,
            "progress reports {gap} ms apart; the period is 50 ms"
        );
        assert!(pair[1].1.iteration >= pair[0].1.iteration);
    }
    for (_, p) in &progress {
        assert!(p.eta.low_secs <= p.eta.eta_secs && p.eta.eta_secs <= p.eta.high_secs);
        assert!(p.images_per_sec > 0.0 && p.total_iterations == 60);
    }

    // A checkpoint per epoch, stored where the report says.
    let model = produced(&reports);
    let epochs = model.metrics.epochs;
    let checkpoints: Vec<_> = middle
        .iter()
        .filter_map(|r| match &r.body {
            ReportBody::Checkpointed(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(checkpoints.len() as u64, epochs, "{kinds:?}");
    for (i, c) in checkpoints.iter().enumerate() {
        assert_eq!(c.epoch, i as u64 + 1);
        let expected = format!("{}/attempt-1/epoch-{:04}.zip", order.process_id, c.epoch);
        assert_eq!(c.object.object, expected);
        env.download(&env.checkpoints, &c.object).await;
    }

    // A metric point for every iteration and every epoch.
    let points = env.points(order.process_id).await;
    let iterations: Vec<u64> = points
        .iter()
        .filter_map(|p| match p {
            MetricPoint::Iteration(p) => Some(p.iteration),
            _ => None,
        })
        .collect();
    assert_eq!(iterations, (1..=60).collect::<Vec<_>>());
    let epoch_points: Vec<_> = points
        .iter()
        .filter_map(|p| match p {
            MetricPoint::Epoch(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(epoch_points.len() as u64, epochs);
    let per_epoch = match &points[0] {
        MetricPoint::Iteration(p) => p.iterations_per_epoch,
        _ => unreachable!(),
    };
    for (i, p) in epoch_points.iter().enumerate() {
        assert_eq!(p.epoch, i as u64 + 1);
        assert_eq!(p.iteration, (p.epoch * per_epoch).min(60));
        assert_eq!(p.labels, dataset.classes);
        assert_eq!(p.confusion.len(), dataset.classes.len());
    }

    // The model: lineage, metrics, and files that reproduce libtorch's outputs.
    assert_eq!(model.lineage, order.snapshot);
    assert_eq!(model.labels, dataset.classes);
    assert_eq!(
        (model.metrics.iterations, model.process_id),
        (60, order.process_id)
    );
    assert_eq!(
        model.metrics.test_accuracy,
        epoch_points.last().unwrap().test_accuracy
    );
    check_samples(&env, model).await;
}

/// Runs the stored ONNX file with ONNX Runtime on the stored samples.
async fn check_samples(env: &Env, model: &ModelProduced) {
    let onnx = env.download(&env.models, &model.onnx).await;
    let session = trainyard_onnx::Session::from_bytes(&onnx, 1).unwrap();
    let samples = read_tensors(env, &model.samples).await;
    let get = |name: &str| {
        samples
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("samples hold no {name}"))
            .1
            .shallow_clone()
    };
    let input = get("input");
    let n = input.size()[0];
    assert_eq!(n as u64, model.parity.samples);
    assert_eq!(get("labels").size(), [n]);
    let shape: Vec<usize> = input.size().iter().map(|&d| d as usize).collect();
    let data = Vec::<f32>::try_from(input.contiguous().view(-1)).unwrap();
    let out = session.run_f32("input", &shape, &data).unwrap();
    for name in ["probabilities", "logits"] {
        let (dims, values) = &out[name];
        let onnx = Tensor::from_slice(values).view([dims[0] as i64, dims[1] as i64]);
        let diff = (onnx - get(name)).abs().max().double_value(&[]);
        assert!(diff <= model.parity.bound, "{name} differ by {diff}");
    }
    assert!(model.parity.max_abs_prob_diff <= model.parity.bound);
    assert!(model.parity.max_abs_logit_diff <= model.parity.bound);
    assert_eq!(model.onnx.size, onnx.len() as u64);
}

async fn read_tensors(env: &Env, object: &ObjectRef) -> Vec<(String, Tensor)> {
    let bytes = env.download(&env.models, object).await;
    let path = env
        .work
        .path()
        .join(format!("{}.safetensors", uuid::Uuid::now_v7()));
    std::fs::write(&path, bytes).unwrap();
    Tensor::read_safetensors(&path).unwrap()
}

/// The first training loss of a run of `order`.
async fn first_loss(env: &Env, process: trainyard_core::TrainingProcessId) -> f64 {
    match &env.points(process).await[0] {
        MetricPoint::Iteration(p) => p.train_loss,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produced_models_weights_start_the_next_run() {
    let env = Env::start().await;
    let dataset = env.dataset(3, 16, 24).await;
    let first = env.order(&dataset, 40);
    env.send(DispatchOrder::Start(first.clone())).await;
    let reports = env.reports_until(first.process_id, is_final).await;
    let weights = produced(&reports).weights.clone();

    // Same data, seed and batches; only the initial weights differ.
    let mut next = env.order(&dataset, 4);
    next.snapshot.base_model.weights = Some(weights);
    env.send(DispatchOrder::Start(next.clone())).await;
    let reports = env.reports_until(next.process_id, is_final).await;
    produced(&reports);
    let (fresh, initialised) = (
        first_loss(&env, first.process_id).await,
        first_loss(&env, next.process_id).await,
    );
    assert!(
        initialised < fresh * 0.8,
        "first loss {initialised} from trained weights, {fresh} from scratch"
    );
    assert!(reports.iter().any(|r| matches!(
        r.body,
        ReportBody::Stage {
            stage: RunStage::BuildingModel
        }
    )));
    // Both runs used one cache entry: the dataset's content digest.
    let cache: Vec<_> = std::fs::read_dir(env.work.path().join("datasets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(cache, [dataset.content_digest.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_stopping_ends_training_with_a_model() {
    let env = Env::start().await;
    let dataset = env.dataset(3, 16, 24).await;
    let mut order = env.order(&dataset, 400);
    // No epoch can gain a whole 100 % of accuracy: training ends after the patience runs out.
    order.snapshot.parameters.early_stopping = Some(trainyard_core::training::EarlyStopping {
        patience_epochs: 2,
        min_delta: 1.0,
    });
    env.send(DispatchOrder::Start(order.clone())).await;
    let reports = env.reports_until(order.process_id, is_final).await;
    let model = produced(&reports);
    assert_eq!(
        model.metrics.epochs, 3,
        "the first epoch, then two without gain"
    );
    assert!(model.metrics.iterations < 400);
    assert_eq!(model.metrics.selected_epoch, 3);
}
