//! material: registering, listing and removing meeting materials, against a mock built from the spec's examples.

use vc_api::types;
use vc_api_tests::{MockApi, assert_matches_example, operation};

#[tokio::test]
async fn material_upload_meta() {
    let api = MockApi::start().await;
    let op = operation("material_upload_meta");
    api.expect(&op, &[]).await;
    let body = op.body::<types::MaterialUploadMetaRequest>();
    assert_eq!(body.materials.len(), 1);
    assert_eq!(body.materials[0].device_type, types::MaterialDeviceType::Pc);
    assert_eq!(body.materials[0].material_type, types::MaterialType::VirtualBackground);
    assert_eq!(body.materials[0].material_source, types::MaterialSource::IsvFromVc);
    let data = api.client().material_upload_meta().body(body).data().await.expect("material_upload_meta succeeds");
    assert_eq!(data.results.len(), 1);
    assert_eq!(data.results[0].file_token.as_deref(), Some("u8ajdjadau8wqu"));
    assert_eq!(data.results[0].result, Some(types::MaterialUploadOutcome::Succeeded));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn material_remove() {
    let api = MockApi::start().await;
    let op = operation("material_remove");
    api.expect(&op, &[]).await;
    let data = api
        .client()
        .material_remove()
        .body(op.body::<types::MaterialRemoveRequest>())
        .data()
        .await
        .expect("material_remove succeeds");
    assert_eq!(data.results.len(), 1);
    assert_eq!(data.results[0].file_token.as_deref(), Some("u8ajdjadau8wqu"));
    assert_eq!(data.results[0].result, Some(types::MaterialRemoveOutcome::Succeeded));
    assert_matches_example(&op, &data);
}

#[tokio::test]
async fn material_pull_meta() {
    let api = MockApi::start().await;
    let op = operation("material_pull_meta");
    api.expect(&op, &["device_type", "material_type"]).await;
    let data = api
        .client()
        .material_pull_meta()
        .device_type(types::MaterialDeviceType::from(op.param_int("device_type") as i32))
        .material_type(types::MaterialType::from(op.param_int("material_type") as i32))
        .data()
        .await
        .expect("material_pull_meta succeeds");
    assert_eq!(data.materials.len(), 1);
    let material = &data.materials[0];
    assert_eq!(material.name.as_deref(), Some("green"));
    assert_eq!(material.file_size, Some(1024));
    assert_eq!(material.device_type, Some(types::MaterialDeviceType::Pc));
    assert_eq!(material.review_result, Some(types::MaterialReviewStatus::Passed));
    assert_matches_example(&op, &data);
}
