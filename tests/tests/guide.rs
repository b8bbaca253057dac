//! The user guide's first step across services: an administrator prepares a role with the
//! guide's minimal rights and a user; the user logs in at identity and creates a training template
//! at the template service with that token; logging out ends the token there too.

use serde_json::json;
use trainyard_auth::testing::guide_minimal_rights;
use trainyard_e2e::{Installation, USER_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_the_guides_minimal_role_creates_a_template_with_identitys_token() {
    let it = Installation::start().await.unwrap();
    let admin = Some(it.admin_token.as_str());
    let (status, role) = it
        .call(
            "POST",
            &it.identity,
            "/api/v1/roles",
            admin,
            Some(json!({"name": "trainer", "permissions": guide_minimal_rights().permissions()})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{role}");
    let body = json!({"login": "olga", "password": USER_PASSWORD, "roles": [role["id"]], "must_change_password": false});
    let (status, user) = it
        .call("POST", &it.identity, "/api/v1/users", admin, Some(body))
        .await
        .unwrap();
    assert_eq!(status, 201, "{user}");
    let (status, project) = it
        .call(
            "POST",
            &it.template,
            "/api/v1/projects",
            admin,
            Some(json!({"name": "Бухгалтерия"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{project}");

    let token = it.login("olga", USER_PASSWORD).await.unwrap();
    let user = Some(token.as_str());
    let form = json!({
        "project_id": project["id"], "name": "Счета", "model_type_id": "00000000-0000-0000-0000-000000000001",
        "augmentation": "rotations_exposure_noise",
    });
    let (status, template) = it
        .call(
            "POST",
            &it.template,
            "/api/v1/training-templates",
            user,
            Some(form),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{template}");
    assert_eq!(template["parameters"]["max_iterations"], 1000);
    // The guide's role may not create projects.
    let (status, _) = it
        .call(
            "POST",
            &it.template,
            "/api/v1/projects",
            user,
            Some(json!({"name": "mine"})),
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    let (status, _) = it
        .call("POST", &it.identity, "/api/v1/auth/logout", user, None)
        .await
        .unwrap();
    assert_eq!(status, 204);
    let path = format!(
        "/api/v1/training-templates/{}",
        template["id"].as_str().unwrap()
    );
    it.eventually(
        "the template service refuses the logged-out token",
        || async {
            matches!(
                it.call("GET", &it.template, &path, user, None).await,
                Ok((401, _))
            )
        },
    )
    .await;
    let (status, _) = it
        .call("GET", &it.template, &path, admin, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
}
