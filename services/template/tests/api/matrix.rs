//! Every template-service endpoint × every standard caller (the built-in administrators, the
//! guide's minimal role, for each permission a role lacking just that one, and no token).
//! Adding an endpoint is one `row!` line.

use std::collections::HashMap;

use serde_json::json;
use trainyard_auth::row;
use trainyard_auth::testing::{check_matrix, standard_callers, Caller, MatrixTarget, Row};

use crate::helpers::{spawn_app_with, TestApp};
use crate::templates::guide_form;

const ROWS: &[Row] = &[
    row!(GET "/api/v1/openapi.json", public),
    row!(GET "/api/v1/projects", any(Projects:View, TrainingTemplates:View, Datasets:View, TrainingProcesses:View)),
    row!(POST "/api/v1/projects", Projects:Create, r#"{"name":"p{unique}"}"#),
    row!(GET "/api/v1/projects/{project}", any(Projects:View, TrainingTemplates:View, Datasets:View, TrainingProcesses:View)),
    row!(PUT "/api/v1/projects/{victim_project}", Projects:Edit, r#"{"name":"p{unique}"}"#),
    row!(DELETE "/api/v1/projects/{victim_project}", Projects:Delete),
    row!(GET "/api/v1/model-types", authenticated),
    row!(POST "/api/v1/model-types", administrator, r#"{"name":"mt{unique}","goal":"classification"}"#),
    row!(GET "/api/v1/model-types/{model_type}", authenticated),
    row!(PUT "/api/v1/model-types/{model_type}", administrator, r#"{"description":"d{unique}","goal":"classification","configuration":{}}"#),
    row!(DELETE "/api/v1/model-types/{victim_model_type}", administrator),
    row!(GET "/api/v1/base-models", authenticated),
    row!(POST "/api/v1/base-models", administrator, r#"{"name":"bm{unique}","architecture":"base"}"#),
    row!(GET "/api/v1/base-models/{base_model}", authenticated),
    row!(PUT "/api/v1/base-models/{base_model}", administrator, r#"{"description":"d{unique}"}"#),
    row!(DELETE "/api/v1/base-models/{base_model}/weights", administrator),
    row!(DELETE "/api/v1/base-models/{victim_base_model}", administrator),
    row!(GET "/api/v1/training-templates", TrainingTemplates:View),
    row!(POST "/api/v1/training-templates", TrainingTemplates:Create, r#"{"project_id":"{project}","name":"t{unique}","model_type_id":"00000000-0000-0000-0000-000000000001"}"#),
    row!(GET "/api/v1/training-templates/parameters-schema", authenticated),
    row!(GET "/api/v1/training-templates/augmentation-preview.png?images=1&variants=1&image_size=32", TrainingTemplates:View),
    row!(GET "/api/v1/training-templates/{template}", TrainingTemplates:View),
    row!(PUT "/api/v1/training-templates/{template}", TrainingTemplates:Edit, r#"{"name":"t{unique}","model_type_id":"00000000-0000-0000-0000-000000000001"}"#),
    row!(GET "/api/v1/training-templates/{template}/versions", TrainingTemplates:View),
    row!(GET "/api/v1/training-templates/{template}/versions/1", TrainingTemplates:View),
    row!(GET "/api/v1/training-templates/{template}/augmentation-preview.png?images=1&variants=1", TrainingTemplates:View),
    row!(GET "/api/v1/training-templates/{template}/pins", TrainingTemplates:View),
    row!(POST "/api/v1/training-templates/{template}/pins", TrainingProcesses:Create, r#"{"process_id":"{process}"}"#),
    row!(DELETE "/api/v1/training-templates/{template}/pins/{process}", TrainingProcesses:Delete),
    row!(DELETE "/api/v1/training-templates/{victim_template}", TrainingTemplates:Delete),
    row!(GET "/api/v1/datasets", Datasets:View),
    row!(POST "/api/v1/datasets", Datasets:Create, r#"{"project_id":"{project}","name":"d{unique}"}"#),
    row!(GET "/api/v1/datasets/{dataset}", Datasets:View),
    row!(PUT "/api/v1/datasets/{dataset}", Datasets:Edit, r#"{"name":"d{unique}"}"#),
    row!(GET "/api/v1/datasets/{dataset}/versions", Datasets:View),
    row!(POST "/api/v1/datasets/{dataset}/versions", Datasets:Edit, r#"{"not an archive":"{unique}"}"#),
    row!(GET "/api/v1/datasets/{ready_dataset}/versions/1", Datasets:View),
    row!(GET "/api/v1/datasets/{ready_dataset}/versions/1/samples.png", Datasets:View),
    row!(GET "/api/v1/datasets/{dataset}/uploads", Datasets:View),
    row!(POST "/api/v1/datasets/{dataset}/uploads", Datasets:Edit, r#"{"size":10}"#),
    row!(GET "/api/v1/datasets/{dataset}/uploads/{upload}", Datasets:View),
    row!(DELETE "/api/v1/datasets/{dataset}/uploads/{upload}", Datasets:Edit),
    row!(DELETE "/api/v1/datasets/{victim_dataset}", Datasets:Delete),
];

struct Templates {
    app: TestApp,
    project: String,
    /// A dataset whose version 1 is validated `ready`.
    ready_dataset: String,
}

impl Templates {
    async fn fresh(&self, kind: &str) -> String {
        let name = format!("{kind}{}", uuid::Uuid::now_v7().simple());
        match kind {
            "victim_project" => self.app.create_project(&name).await,
            "template" | "victim_template" => self
                .app
                .admin(
                    "POST",
                    "/api/v1/training-templates",
                    Some(guide_form(&self.project, &name)),
                )
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            "model_type" | "victim_model_type" => {
                let body = json!({"name": name, "goal": "classification"});
                self.app
                    .admin("POST", "/api/v1/model-types", Some(body))
                    .await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            "base_model" | "victim_base_model" => {
                let body = json!({"name": name, "architecture": "base"});
                self.app
                    .admin("POST", "/api/v1/base-models", Some(body))
                    .await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
            "dataset" | "victim_dataset" => {
                crate::datasets::create_dataset(&self.app, &self.project, &name).await
            }
            other => panic!("no fixture `{other}`"),
        }
    }
}

impl MatrixTarget for Templates {
    fn base_url(&self) -> String {
        self.app.base.clone()
    }

    async fn token(&self, caller: &Caller) -> Option<String> {
        self.app.issuer.token_for(caller, self.app.tenant)
    }

    async fn vars(&self, row: &Row, _caller: &Caller) -> HashMap<String, String> {
        let mut vars = HashMap::from([
            ("project".to_owned(), self.project.clone()),
            ("process".to_owned(), uuid::Uuid::now_v7().to_string()),
            ("ready_dataset".to_owned(), self.ready_dataset.clone()),
        ]);
        for kind in [
            "victim_project",
            "template",
            "victim_template",
            "model_type",
            "victim_model_type",
            "base_model",
            "victim_base_model",
            "dataset",
            "victim_dataset",
        ] {
            if row.path.contains(&format!("{{{kind}}}")) {
                vars.insert(kind.to_owned(), self.fresh(kind).await);
            }
        }
        if row.path.contains("{upload}") {
            let path = format!("/api/v1/datasets/{}/uploads", vars["dataset"]);
            let begun = self
                .app
                .admin("POST", &path, Some(json!({"size": 10})))
                .await;
            vars.insert(
                "upload".to_owned(),
                begun["id"].as_str().unwrap().to_owned(),
            );
        }
        if row.path.ends_with("/pins/{process}") {
            let pin = json!({"process_id": vars["process"]});
            let path = format!("/api/v1/training-templates/{}/pins", vars["template"]);
            self.app.admin("POST", &path, Some(pin)).await;
        }
        vars
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_caller_as_its_rights_say() {
    // Every caller begins uploads; none is finished.
    let app = spawn_app_with(|c| c.service.datasets.max_open_uploads = 1_000).await;
    let project = app.create_project("matrix").await;
    let ready_dataset = crate::datasets::create_dataset(&app, &project, "ready").await;
    let version =
        crate::datasets::upload_and_settle(&app, &ready_dataset, crate::datasets::good_dataset())
            .await;
    assert_eq!(version["status"], "ready", "{version}");
    let target = Templates {
        app,
        project,
        ready_dataset,
    };
    check_matrix(&target, ROWS, &standard_callers(ROWS)).await;
}
